#!/usr/bin/env bash
# The npm package as a user gets it: `npm pack` (which builds lib/ through prepack), the tarball installed
# into a fresh project, then (a) `npx webdit info`, (b) Node imports 'webdit' and generates a 2-step clip
# on the toy model the package ships, (c) a fresh Vite app importing 'webdit' and 'webdit/element' builds
# and its TypeScript type-checks against the package's types (WebGPU's come with them). Dependencies come from npm's cache when it
# has them (`npm ci` filled it), else from the registry.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/webdit-pack-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

step 'npm pack'
# prepack's build log comes first on stdout; npm's JSON report is the array at the end.
(cd "$ROOT" && npm pack --json --pack-destination "$WORK" >"$WORK/pack.out")
node -e "
  const out = require('fs').readFileSync('$WORK/pack.out', 'utf8');
  require('fs').writeFileSync('$WORK/pack.json', out.slice(out.lastIndexOf('\n[\n') + 1));
"
TARBALL="$WORK/$(node -e "process.stdout.write(require('$WORK/pack.json')[0].filename)")"
node -e "
  const [p] = require('$WORK/pack.json');
  const files = p.files.map((f) => f.path);
  console.log('tarball ' + p.filename + ': ' + (p.size / 1e6).toFixed(2) + ' MB packed, ' + (p.unpackedSize / 1e6).toFixed(2) + ' MB unpacked, ' + files.length + ' files');
  const need = ['bin/webdit.mjs', 'lib/src/node.js', 'lib/src/node.d.ts', 'lib/src/index.d.ts', 'lib/browser/index.js', 'lib/browser/element.js',
    'lib/src/cli/main.js', 'shaders/matmul.wgsl', 'public/models/toy/model_index.json', 'public/models/toy/transformer/diffusion_pytorch_model.safetensors'];
  const missing = need.filter((f) => !files.includes(f));
  const stray = files.filter((f) => /^(src|test|tools|train|bench)\//.test(f) || f.endsWith('reference.safetensors'));
  if (missing.length || stray.length) { console.error('missing: ' + missing.join(', ') + '; should not ship: ' + stray.join(', ')); process.exit(1); }
"

step 'install the tarball into a fresh project'
APP="$WORK/app"
mkdir -p "$APP/src"
cat >"$APP/package.json" <<'JSON'
{ "name": "webdit-pack-test", "private": true, "type": "module" }
JSON
(cd "$APP" && npm install --prefer-offline --no-audit --no-fund --loglevel=error "$TARBALL")

step '(a) npx webdit info'
(cd "$APP" && npx --no-install webdit info >"$WORK/info.json")
node -e "const i = JSON.parse(require('fs').readFileSync('$WORK/info.json', 'utf8')); if (!i.adapter || !(i.limits.maxBufferSize > 0)) process.exit(1); console.log('adapter:', JSON.stringify(i.adapter))"

# bench-kernels' TensorFlow.js peer is a dev dependency: without it the command says what to install.
set +e
(cd "$APP" && npx --no-install webdit bench-kernels --quick >/dev/null 2>"$WORK/bench-kernels.err")
status=$?
set -e
grep -q 'the TensorFlow.js peer is not installed' "$WORK/bench-kernels.err" && [ "$status" = 2 ] || { cat "$WORK/bench-kernels.err"; exit 1; }

step '(b) Node: import webdit and generate a 2-step toy clip'
cat >"$APP/generate.mjs" <<'JS'
import { writeFileSync } from 'node:fs';
import { createNodeContext, directoryFolder, encodeWebm, framesToRgba8, generateVideo, loadBundle, shippedModelDir } from 'webdit';

const entry = import.meta.resolve('webdit');
if (!entry.includes('/node_modules/webdit/lib/')) throw new Error(`'webdit' resolved to ${entry}, not the installed package's lib/`);
const ctx = await createNodeContext();
const bundle = await loadBundle(ctx, directoryFolder(shippedModelDir()));
const result = await generateVideo(ctx, bundle, { prompt: 'a red circle moving right on a black background', steps: 2, seed: 1 });
const [frames, channels, height, width] = result.shape;
if (result.frames.length !== frames * channels * height * width || !result.frames.every(Number.isFinite)) throw new Error('frames are not finite');
const video = await encodeWebm(framesToRgba8(result.frames, result.shape), width, height);
writeFileSync('clip.webm', video);
console.log(`${frames} frames ${width}x${height}, ${video.length} bytes of WebM, in ${result.seconds.toFixed(2)} s`);
bundle.dispose();
ctx.destroy();
JS
(cd "$APP" && node generate.mjs)
node -e "const b = require('fs').readFileSync('$APP/clip.webm'); if (b.readUInt32BE(0) !== 0x1a45dfa3) { console.error('clip.webm is not EBML/WebM'); process.exit(1) }"

step '(c) a fresh Vite app importing webdit builds'
cat >"$APP/index.html" <<'HTML'
<!doctype html>
<html><head><link rel="icon" href="data:," /></head>
<body><webdit-video prompt="a red circle moving right on a black background" steps="2" seed="1"></webdit-video>
<script type="module" src="/src/main.ts"></script></body></html>
HTML
cat >"$APP/src/main.ts" <<'TS'
import { createBrowserContext, generateVideo, loadBundle, urlFolder, type VideoResult } from 'webdit';
import { WebditVideo } from 'webdit/element';

export async function run(): Promise<VideoResult> {
  const ctx = await createBrowserContext();
  const bundle = await loadBundle(ctx, urlFolder(new URL('models/toy/', location.href).href));
  return generateVideo(ctx, bundle, { prompt: 'a blue square moving up on a white background', steps: 2, seed: 0 });
}
// For test/package/pack.test.ts, which runs the built app in Chromium.
Object.assign(window, { runWebdit: run, webditVideoDefined: customElements.get('webdit-video') === WebditVideo });
TS
cat >"$APP/tsconfig.json" <<'JSON'
{ "compilerOptions": { "target": "ES2022", "module": "ESNext", "moduleResolution": "Bundler", "lib": ["ES2022", "DOM"],
  "types": [], "strict": true, "noEmit": true, "skipLibCheck": false }, "include": ["src"] }
JSON
# The element's default model is models/toy/ under the page: the app serves the package's copy there.
mkdir -p "$APP/public/models"
cp -r "$APP/node_modules/webdit/public/models/toy" "$APP/public/models/toy"
(cd "$APP" && "$ROOT/node_modules/.bin/tsc" -p tsconfig.json)
(cd "$APP" && "$ROOT/node_modules/.bin/vite" build --logLevel warn)
node -e "
  const fs = require('fs'), path = require('path');
  const dir = '$APP/dist/assets';
  const js = fs.readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => fs.readFileSync(path.join(dir, f), 'utf8')).join('\n');
  for (const needle of ['webdit-video', 'createComputePipeline', '@compute']) if (!js.includes(needle)) { console.error('the app bundle lacks ' + needle); process.exit(1); }
  console.log('vite app built: ' + fs.readdirSync(dir).length + ' assets');
"
# PACK_APP_DIST=DIR keeps the built app, for a browser to run it.
if [ -n "${PACK_APP_DIST:-}" ]; then cp -r "$APP/dist" "$PACK_APP_DIST"; fi
step 'package test passed'
