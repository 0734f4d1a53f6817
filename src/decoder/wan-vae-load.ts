// Loading the Wan VAE decoder: a single safetensors file under the original key names
// (wan_2.1_vae.safetensors, encoder tensors ignored) or diffusers' names, or a diffusers folder
// (vae/config.json + vae/diffusion_pytorch_model.safetensors, or that vae folder itself).
// The original Wan2.1_VAE.pth is a Python pickle, which is never read.

import type { GpuContext } from '../gpu/context.ts';
import { formatShape, type Tensor } from '../gpu/tensor.ts';
import { loadTensors, openCheckpoint, openCheckpointFile, type Checkpoint } from '../weights/checkpoint.ts';
import type { ModelFolder } from '../weights/folder.ts';
import { readTensor } from '../weights/safetensors.ts';
import type { ByteSource } from '../weights/source.ts';
import { WAN21_VAE_CONFIG, checkConfig, decoderTensorShapes, diffusersKey, parseWanVaeConfig, type WanVaeConfig } from './wan-vae-config.ts';
import { WanVaeDecoder } from './wan-vae.ts';

export interface WanVaeLoadOptions {
  onProgress?: (loadedBytes: number, totalBytes: number) => void;
  signal?: AbortSignal;
}

const PICKLE_HELP =
  'convert it once to safetensors (e.g. python -c "import torch, safetensors.torch as st; st.save_file(torch.load(\'Wan2.1_VAE.pth\', weights_only=True), \'wan_2.1_vae.safetensors\')"), ' +
  'or download a ready one: the diffusers folder Wan-AI/Wan2.1-T2V-1.3B-Diffusers/vae, or the single-file wan_2.1_vae.safetensors (Comfy-Org/Wan_2.1_ComfyUI_repackaged)';

/** Throws when the file is a PyTorch checkpoint (a zip archive or a raw pickle), whatever its name. */
export async function refusePickle(source: ByteSource): Promise<void> {
  const head = source.size >= 2 ? await source.read(0, 2) : new Uint8Array(0);
  const zip = head[0] === 0x50 && head[1] === 0x4b; // "PK": torch.save's zip format
  const pickle = head[0] === 0x80 && head[1] !== undefined && head[1] <= 5; // pickle protocol marker
  if (zip || pickle || /\.(pth|pt|ckpt|pkl)$/i.test(source.name)) {
    throw new Error(`${source.name} is a PyTorch pickle, which webdit never loads (unpickling runs code); ${PICKLE_HELP}`);
  }
}

/** Which names a checkpoint uses, and the config its shapes imply (single files carry no config). */
function inferFromSingleFile(checkpoint: Checkpoint, where: string): { diffusers: boolean; config: WanVaeConfig } {
  const original = checkpoint.tensors.get('decoder.head.2.weight');
  const diffusers = checkpoint.tensors.get('decoder.conv_out.weight');
  const head = original ?? diffusers;
  const conv2 = checkpoint.tensors.get(original ? 'conv2.weight' : 'post_quant_conv.weight');
  if (!head || !conv2) {
    throw new Error(`${where} is not a Wan VAE checkpoint: it has neither "decoder.head.2.weight" and "conv2.weight" (original names) nor "decoder.conv_out.weight" and "post_quant_conv.weight" (diffusers)`);
  }
  // The head reads the base width; the latent width is conv2's. The rest is Wan2.1's (checked by shape).
  const config: WanVaeConfig = { ...WAN21_VAE_CONFIG, baseDim: head.info.shape[1], zDim: conv2.info.shape[0] };
  if (config.zDim !== WAN21_VAE_CONFIG.zDim) throw new Error(`${where}: ${config.zDim} latent channels; a single file carries no latent statistics, and only Wan2.1's 16 are known`);
  return { diffusers: !original, config };
}

/** Reads a single safetensors file (original or diffusers key names) to the GPU. */
export async function loadWanVaeFile(ctx: GpuContext, source: ByteSource, options: WanVaeLoadOptions = {}): Promise<WanVaeDecoder> {
  await refusePickle(source);
  const checkpoint = await openCheckpointFile(source);
  const { diffusers, config } = inferFromSingleFile(checkpoint, source.name);
  return loadFromCheckpoint(ctx, checkpoint, config, diffusers, source.name, options);
}

/** Reads a diffusers folder: the model root (with vae/) or the vae folder itself. */
export async function loadWanVaeFolder(ctx: GpuContext, folder: ModelFolder, options: WanVaeLoadOptions = {}): Promise<WanVaeDecoder> {
  let vae = folder;
  let configText = await folder.readText('vae/config.json');
  if (configText !== undefined) {
    vae = { name: `${folder.name}/vae`, open: (p) => folder.open(`vae/${p}`), readText: (p) => folder.readText(`vae/${p}`) };
  } else configText = await folder.readText('config.json');
  if (configText === undefined) throw new Error(`${folder.name}: no vae/config.json or config.json (an AutoencoderKLWan folder)`);
  const config = parseWanVaeConfig(configText, `${vae.name}/config.json`);
  const checkpoint = await openCheckpoint(vae);
  const diffusers = checkpoint.tensors.has('decoder.conv_out.weight');
  return loadFromCheckpoint(ctx, checkpoint, config, diffusers, vae.name, options);
}

async function loadFromCheckpoint(
  ctx: GpuContext,
  checkpoint: Checkpoint,
  config: WanVaeConfig,
  diffusers: boolean,
  where: string,
  options: WanVaeLoadOptions,
): Promise<WanVaeDecoder> {
  checkConfig(config, where);
  const shapes = decoderTensorShapes(config);
  const stored = (key: string) => (diffusers ? diffusersKey(key, config) : key);
  for (const [key, shape] of shapes) {
    const entry = checkpoint.tensors.get(stored(key));
    if (!entry) throw new Error(`${where}: no tensor "${stored(key)}"${diffusers ? ` (original name "${key}")` : ''}`);
    const got = entry.info.shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      throw new Error(`${where}: "${stored(key)}" must have shape ${formatShape(shape)} for base width ${config.baseDim}, got ${formatShape(got)}`);
    }
  }
  // conv2 and the latent statistics become one conv, folded on the host (16 × 16 values):
  // W·(z·std + mean) + b = (W·diag(std))·z + (W·mean + b).
  const w2 = await readTensor(checkpoint.tensors.get(stored('conv2.weight'))!.file, stored('conv2.weight'));
  const b2 = await readTensor(checkpoint.tensors.get(stored('conv2.bias'))!.file, stored('conv2.bias'));
  const z = config.zDim;
  const foldedW = new Float32Array(z * z);
  const foldedB = new Float32Array(z);
  for (let o = 0; o < z; o++) {
    let bias = b2[o];
    for (let i = 0; i < z; i++) {
      foldedW[o * z + i] = w2[o * z + i] * config.latentsStd[i];
      bias += w2[o * z + i] * config.latentsMean[i];
    }
    foldedB[o] = bias;
  }
  const rest = [...shapes.keys()].filter((k) => !k.startsWith('conv2.'));
  const loaded = await loadTensors(ctx, checkpoint, rest.map(stored), {
    // Biases and norm gains are read by f32 bindings; conv weights may stay f16 / bf16.
    widenToF32: (_name, info) => info.shape.length === 1 || info.shape.slice(1).every((d) => d === 1),
    onProgress: options.onProgress,
    signal: options.signal,
  });
  const weights = new Map<string, Tensor>();
  for (const key of rest) weights.set(key, loaded.get(stored(key))!);
  weights.set('conv2.weight', ctx.upload(foldedW, [z, z, 1, 1, 1], 'f32', 'vae conv2 (denormalising)'));
  weights.set('conv2.bias', ctx.upload(foldedB, [z], 'f32', 'vae conv2 bias (denormalising)'));
  return new WanVaeDecoder(config, weights);
}
