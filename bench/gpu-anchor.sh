#!/usr/bin/env bash
# webdit against native PyTorch on one CUDA GPU, all into one JSON (bench/results/gpu-anchor-<gpu>.json):
#   1. PyTorch: the Wan2.1-1.3B-shaped forward (random bf16, CFG as a batch of 2, SDPA) at 2,304 and
#      16,384 tokens, and matmul / attention TFLOP/s at Wan's shapes (bench/gpu_anchor.py);
#   2. webdit, once per Dawn configuration: f32 (WEBDIT_DAWN_TOGGLES=off: no shader-f16, no matrix units)
#      and with the toggles (f16 and subgroup matrices where the adapter offers them; `webdit info`
#      records which kernel paths ran): seconds per step of the same model (bench/wan-shaped-model.ts,
#      timed by bench/gpu-anchor-step.ts: median step of STEPS after a 1-step warm-up) and
#      `webdit bench-kernels --wan`;
#   3. the merge: ratios to PyTorch and an 832×480×81, 50-step estimate with and without BWCache.
#
#   bash bench/gpu-anchor.sh                     # on the GPU machine, from the repository root
#   STEPS=2 TOKENS=2304 bash bench/gpu-anchor.sh # shorter
#   TINY=1 bash bench/gpu-anchor.sh              # self-test at toy sizes (CPU torch, SwiftShader)
# Needs: node with `npm ci` done, python3 with torch (CUDA build unless TINY=1). A few minutes on an H100.
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=${STEPS:-3}
TOKENS=${TOKENS:-2304,16384}
WORK=${WORK:-$(mktemp -d)}
PYTHON=${PYTHON:-python3}
WEBDIT=(node bin/webdit.mjs)
mkdir -p "$WORK/webdit"

# Patch grids (frames, height/2, width/2) of the token counts; webdit's model is in pixel space.
video_size() {
  case "$1" in
    2304) echo "--frames 3 --height 48 --width 64" ;;
    16384) echo "--frames 16 --height 64 --width 64" ;;
    96) echo "--frames 3 --height 8 --width 16" ;;
    256) echo "--frames 4 --height 16 --width 16" ;;
    *) echo "no video size for $1 tokens" >&2; exit 2 ;;
  esac
}

if [[ "${TINY:-0}" == 1 ]]; then
  TOKENS=${TINY_TOKENS:-96}
  STEPS=1
  TORCH_ARGS=(--tiny --device cpu --min-seconds 0.2)
  MODEL_ARGS=(--layers 1)
  KERNEL_ARGS=(--quick --no-peer --tokens 64 --widths 32 --no-attention)
  NAME=tiny
else
  TORCH_ARGS=(--device cuda --min-seconds 2)
  MODEL_ARGS=()
  KERNEL_ARGS=(--wan --no-peer)
  NAME=$("$PYTHON" -c 'import torch; print(torch.cuda.get_device_name().lower().replace(" ", "-"))')
fi
OUT=${OUT:-bench/results/gpu-anchor-$NAME.json}

"$PYTHON" - "$WORK/webdit/meta.json" <<'PY'
import json, subprocess, sys
def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
    except Exception as e:
        return f'unavailable: {e}'
json.dump({'commit': run('git', 'rev-parse', 'HEAD'), 'node': run('node', '--version'),
           'gpu': run('nvidia-smi', '--query-gpu=name,driver_version,memory.total', '--format=csv,noheader')},
          open(sys.argv[1], 'w'), indent=2)
PY

echo "== PyTorch" >&2
"$PYTHON" bench/gpu_anchor.py torch --tokens "$TOKENS" --out "$WORK/torch.json" "${TORCH_ARGS[@]}"

echo "== webdit model (random bf16, Wan2.1-1.3B layout)" >&2
if [[ "${TINY:-0}" == 1 ]]; then
  # The 1.3B layout with one block is still 90 M parameters: small enough for SwiftShader at 96 tokens.
  npx tsx bench/wan-shaped-model.ts --out "$WORK/model" "${MODEL_ARGS[@]}" >&2
else
  npx tsx bench/wan-shaped-model.ts --out "$WORK/model" >&2
fi

for config in f32 toggles; do
  if [[ $config == f32 ]]; then toggles=off; else toggles=${WEBDIT_DAWN_TOGGLES:-vulkan_enable_f16_on_nvidia,allow_unsafe_apis,use_vulkan_memory_model}; fi
  echo "== webdit ($config: WEBDIT_DAWN_TOGGLES=$toggles)" >&2
  WEBDIT_DAWN_TOGGLES=$toggles "${WEBDIT[@]}" info > "$WORK/webdit/info-$config.json"
  for tokens in ${TOKENS//,/ }; do
    # shellcheck disable=SC2046
    # A failed size (out of memory, a shader the driver refuses) is recorded and the run goes on.
    WEBDIT_DAWN_TOGGLES=$toggles npx tsx bench/gpu-anchor-step.ts --model "$WORK/model" $(video_size "$tokens") \
      --steps "$STEPS" > "$WORK/webdit/step-$config-$tokens.json" 2> "$WORK/webdit/step-$config-$tokens.err" ||
      "$PYTHON" -c 'import json, sys; print(json.dumps({"tokens": int(sys.argv[1]), "error": open(sys.argv[2]).read()[-2000:]}))' \
        "$tokens" "$WORK/webdit/step-$config-$tokens.err" > "$WORK/webdit/step-$config-$tokens.json"
  done
  WEBDIT_DAWN_TOGGLES=$toggles "${WEBDIT[@]}" bench-kernels "${KERNEL_ARGS[@]}" > "$WORK/webdit/kernels-$config.json" ||
    echo '{"error": "bench-kernels failed (see the log)"}' > "$WORK/webdit/kernels-$config.json"
done

echo "== merge → $OUT" >&2
"$PYTHON" bench/gpu_anchor.py merge --torch "$WORK/torch.json" --webdit-dir "$WORK/webdit" --out "$OUT"
