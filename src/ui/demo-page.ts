// The demo page (index.html): the shipped model loads at once, a Wan2.1 folder by URL or from disk; the
// form sets prompt (and negative prompt), sampling, size (presets, memory plan, time estimate), decoder
// and cache; a run shows its stages (encode, release the encoder, sample per step, decode), then plays
// the clip with the cache's compute/reuse map and indicator curve, and, against an uncached run of the
// same settings, the speedup and PSNR.

import { parseCacheSpec, formatCacheSpec } from '../cache/spec.ts';
import { POLICY_DEFAULTS, type CacheConfig, type PolicyName } from '../cache/policies.ts';
import { psnr } from '../frames/metrics.ts';
import { AbortError, type GenerateResult } from '../pipeline/generate.ts';
import { measureAdapter } from '../pipeline/estimate.ts';
import { liveBundle, runExclusive, sharedContext } from './engine.ts';
import { heatmap, lineChart } from './charts.ts';
import { byId, downloadBlob, errorMessage, formatBytes, formatPercent, formatPsnr, formatSeconds, h } from './format.ts';
import { defaultSteps, modelLabel, promptOf, randomPrompt, takesNegativeText, takesText, type LoadedModel } from './model.ts';
import { SizeControls, type RunShape } from './demo-size.ts';
import { generateStaged } from './staged-run.ts';
import { showStage, umt5Tokens } from './demo-stages.ts';
import { ModelLoader, type LoaderHooks } from './model-loader.ts';
import { PartsLoader } from './parts-loader.ts';
import { sharedPromptStore } from './prompt-store.ts';
import { notice, setPageState, startWebGpu } from './page.ts';
import { encodeClip, initVideoEncoder, type Clip } from './video.ts';

const $ = {
  form: byId<HTMLFormElement>('controls'),
  prompt: byId<HTMLTextAreaElement>('prompt'),
  examples: byId('examples'),
  promptNote: byId('prompt-note'),
  negativeField: byId('negative-field'),
  negative: byId<HTMLTextAreaElement>('negative-prompt'),
  negativeNote: byId('negative-note'),
  negativeReset: byId<HTMLButtonElement>('negative-reset'),
  sizePreset: byId<HTMLSelectElement>('size-preset'),
  gpuMemory: byId<HTMLInputElement>('gpu-memory'),
  plan: byId('plan'),
  estimate: byId('estimate'),
  decoderGroup: byId('decoder-group'),
  decoderChoice: byId<HTMLSelectElement>('decoder-choice'),
  steps: byId<HTMLInputElement>('steps'),
  guidance: byId<HTMLInputElement>('guidance'),
  seed: byId<HTMLInputElement>('seed'),
  newSeed: byId<HTMLButtonElement>('new-seed'),
  frames: byId<HTMLInputElement>('frames'),
  height: byId<HTMLInputElement>('height'),
  width: byId<HTMLInputElement>('width'),
  sizeHint: byId('size-hint'),
  policy: byId<HTMLSelectElement>('cache-policy'),
  paramField: byId('cache-param-field'),
  paramLabel: byId('cache-param-label'),
  param: byId<HTMLInputElement>('cache-threshold'),
  spec: byId('cache-spec'),
  generate: byId<HTMLButtonElement>('generate'),
  abort: byId<HTMLButtonElement>('abort'),
  modelName: byId('model-name'),
  modelDetail: byId('model-detail'),
  loadProgress: byId('load-progress'),
  loadBar: byId<HTMLProgressElement>('load-bar'),
  loadLabel: byId('load-label'),
  stage: byId('stage'),
  video: byId<HTMLVideoElement>('video'),
  placeholder: byId('placeholder'),
  placeholderText: byId('placeholder-text'),
  runProgress: byId('run-progress'),
  runBar: byId<HTMLProgressElement>('run-bar'),
  runLabel: byId('run-label'),
  runEta: byId('run-eta'),
  message: byId('message'),
  download: byId<HTMLButtonElement>('download'),
  clipInfo: byId('clip-info'),
  metrics: byId('metrics'),
  mTime: byId('m-time'),
  mReuse: byId('m-reuse'),
  mSpeedup: byId('m-speedup'),
  mSpeedupBox: byId('m-speedup-box'),
  mPsnr: byId('m-psnr'),
  mPsnrBox: byId('m-psnr-box'),
  compareNote: byId('compare-note'),
  heatmap: byId('heatmap'),
  indicator: byId('indicator'),
  indicatorCost: byId('indicator-cost'),
  loaderMessage: byId('loader-message'),
  loadPanel: byId<HTMLDetailsElement>('load-panel'),
  badge: byId('gpu-badge'),
};

let model: LoadedModel | undefined;
let running: AbortController | undefined;
let clip: { clip: Clip; fileName: string; url: string } | undefined;

// ---- the cache control -------------------------------------------------------------------------

const THRESHOLD_POLICIES = new Set<PolicyName>(['bwcache', 'first-block', 'teacache']);

function cacheSpec(): string {
  const policy = $.policy.value as PolicyName;
  const value = $.param.value.trim();
  if (policy === 'none') return 'none';
  if (policy === 'static') return value ? `static:interval=${value}` : 'static';
  return value ? `${policy}:threshold=${value}` : policy;
}

function onPolicyChange(): void {
  const policy = $.policy.value as PolicyName;
  const defaults = POLICY_DEFAULTS[policy] as unknown as Record<string, number>;
  $.paramField.hidden = policy === 'none';
  if (policy === 'static') {
    $.paramLabel.textContent = 'Interval (steps)';
    $.param.step = '1';
    $.param.min = '1';
    $.param.value = String(defaults.interval);
  } else if (THRESHOLD_POLICIES.has(policy)) {
    $.paramLabel.textContent = 'Threshold δ';
    $.param.step = '0.01';
    $.param.min = '0';
    $.param.value = String(defaults.threshold);
  }
  updateSpec();
}

function updateSpec(): void {
  try {
    $.spec.textContent = formatCacheSpec(parseCacheSpec(cacheSpec()));
    $.spec.title = 'The cache spec (as the CLI and <webdit-video cache="…"> take it)';
  } catch (e) {
    $.spec.textContent = cacheSpec();
    $.spec.title = errorMessage(e);
  }
}

// ---- model -------------------------------------------------------------------------------------

function describeModel(m: LoadedModel): void {
  const { bundle } = m;
  const cfg = bundle.model.config;
  const params = [...bundle.model.weights.values()].reduce((s, t) => s + t.size, 0);
  $.modelName.textContent = modelLabel(m);
  $.modelName.title = bundle.name;
  $.modelDetail.textContent = `${cfg.numLayers} blocks · ${(params / 1e6).toFixed(params < 1e7 ? 2 : 0)} M parameters · ${m.origin}`;
  if (bundle.promptEncoder) $.modelDetail.textContent += ` · Wan2.1: umT5 (${bundle.promptEncoder.config.numLayers} layers, streamed) → transformer → ${m.wan ? 'Wan VAE' : 'TAEHV'}`;
  const d = bundle.defaults;
  $.steps.value = String(defaultSteps(m));
  $.guidance.value = String(d.guidance);
  $.stage.style.setProperty('--clip-aspect', `${d.width} / ${d.height}`);
  $.negative.value = bundle.negativePrompt ?? '';
  $.decoderGroup.hidden = !m.previewDecoder;
  $.decoderChoice.value = 'model';
  if (m.previewDecoder) $.decoderChoice.options[1].textContent = `TAEHV preview (${m.previewDecoder.name})`;
  renderExamples(m);
  updatePromptState();
  sizeControls.setModel(m);
}

/** The decoder a run uses: the bundle's, or the TAEHV preview chosen beside a Wan2.1 folder's VAE. */
function chosenDecoder(m: LoadedModel): { decoder: LoadedModel['bundle']['decoder']; key: string; name: string } {
  if (m.previewDecoder && $.decoderChoice.value === 'preview') return { decoder: m.previewDecoder.decoder, key: 'preview', name: 'TAEHV (preview)' };
  return { decoder: m.bundle.decoder, key: 'model', name: m.wan ? 'the Wan VAE' : 'the decoder' };
}

function renderExamples(m: LoadedModel): void {
  $.examples.replaceChildren();
  const seen = new Set<string>();
  let seed = 7;
  const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
  for (let i = 0; i < 12 && seen.size < 2; i++) {
    const p = randomPrompt(m.extras, random);
    if (p) seen.add(p);
  }
  for (const p of seen) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'chip';
    b.textContent = p;
    b.addEventListener('click', () => {
      $.prompt.value = p;
      updatePromptState();
    });
    $.examples.append(b);
  }
  if (m.extras.promptTemplate) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'chip';
    b.textContent = '⟳ Surprise me';
    b.title = 'A random prompt the model was trained on';
    b.addEventListener('click', () => {
      $.prompt.value = randomPrompt(m.extras) ?? $.prompt.value;
      updatePromptState();
    });
    $.examples.append(b);
  }
}

/** The prompt box: disabled when embeddings drive the model; a note on words the model does not know. */
function updatePromptState(): void {
  if (!model) return;
  const { bundle, embeds, extras } = model;
  const negative = takesNegativeText(model) && !embeds;
  $.negativeField.hidden = $.negativeNote.hidden = !negative;
  if (embeds || !takesText(model)) {
    $.prompt.disabled = true;
    $.examples.hidden = true;
    $.promptNote.hidden = false;
    $.promptNote.classList.remove('unknown-words');
    $.promptNote.textContent = embeds
      ? `The prompt comes from ${embeds.promptName} (${embeds.prompt.rows} tokens of precomputed embeddings).`
      : `${modelLabel(model)} has no text encoder in webdit: load prompt embeddings (prompt_embeds .safetensors) under "Load another model".`;
    return;
  }
  $.prompt.disabled = false;
  $.examples.hidden = false;
  if (!bundle.textEncoder) {
    // umT5's SentencePiece vocabulary covers any text: no unknown-word note.
    $.promptNote.hidden = true;
    return;
  }
  const { unknown } = bundle.textEncoder.tokenize($.prompt.value);
  if (unknown.length) {
    const known = Object.entries(extras.words)
      .map(([slot, words]) => `${slot}s: ${words.join(', ')}`)
      .join('; ');
    $.promptNote.hidden = false;
    $.promptNote.classList.add('unknown-words');
    // Each unknown word highlighted: it becomes <unk>, so the model draws without it.
    const marks = [...new Set(unknown)].flatMap((w, i) => {
      const mark = document.createElement('mark');
      mark.textContent = w;
      return i ? [', ', mark] : [mark];
    });
    $.promptNote.replaceChildren('The model does not know ', ...marks, ` (they become <unk>).${known ? ` It knows ${known}.` : ''}`);
  } else {
    $.promptNote.hidden = true;
    $.promptNote.classList.remove('unknown-words');
  }
}

function setLoadProgress(text: string, fraction: number | undefined, done = false): void {
  $.loadProgress.hidden = done;
  if (done) return;
  if (fraction === undefined) $.loadBar.removeAttribute('value');
  else $.loadBar.value = fraction;
  $.loadLabel.textContent = text;
}

const loaderHooks: LoaderHooks = {
  current: () => model,
  loaded: (m) => {
    model = m;
    describeModel(m);
    refreshControls();
    setPageState('ready');
  },
  progress: (text, fraction, done) => setLoadProgress(text, fraction, done),
  embedsChanged: updatePromptState,
  busy: () => (running ? 'A clip is being generated: abort it or wait before loading another model.' : undefined),
  say: (text, kind = 'info') => {
    notice($.loaderMessage, text, kind);
    if (text && kind === 'error') $.loadPanel.open = true;
  },
  budget: () => sizeControls.budget(),
};
const loader = new ModelLoader(loaderHooks);
new PartsLoader(loaderHooks);

const sizeControls = new SizeControls(
  { preset: $.sizePreset, frames: $.frames, height: $.height, width: $.width, hint: $.sizeHint, memory: $.gpuMemory, plan: $.plan, estimate: $.estimate },
  {
    limits: async () => (await sharedContext()).limits,
    measure: async (m, decoder) => {
      const ctx = await sharedContext();
      // Real models are measured at more tokens and pixels, where their kernels near a real run's throughput;
      // tiny test models at few, where the measurement stays quick on a CPU adapter.
      const large = m.bundle.model.config.dim >= 512;
      return runExclusive(async () => {
        // A run that freed the transformer's weights for decoding left them out: the block timing needs them.
        if (!m.bundle.model.weightsResident) await m.bundle.reloadTransformerWeights?.();
        return measureAdapter(ctx, m.bundle.model, decoder, { latentSide: large ? 48 : 16, decodeSide: large ? 8 : 2 });
      });
    },
    shape: (): RunShape | undefined => {
      if (!model) return undefined;
      const steps = Number($.steps.value);
      const guidance = Number($.guidance.value);
      if (!(steps >= 1) || !(guidance >= 0)) return undefined;
      let cache;
      try {
        cache = parseCacheSpec(cacheSpec());
      } catch {
        return undefined;
      }
      const { decoder, key } = chosenDecoder(model);
      return { steps, guidance, cache, decoder, decoderKey: key, ...umt5Tokens(model, $.prompt.value, $.negative.value, guidance) };
    },
  },
);

// ---- generation --------------------------------------------------------------------------------

interface RunSettings {
  promptLabel: string;
  /** The negative prompt's text where the page offers one (undefined: the model's default handling). */
  negative: string | undefined;
  /** 'model' or 'preview' (the TAEHV file beside a Wan2.1 folder). */
  decoder: string;
  steps: number;
  guidance: number;
  seed: number;
  frames: number;
  height: number;
  width: number;
  cache: CacheConfig;
}

function intInput(el: HTMLInputElement, name: string): number {
  const v = Number(el.value);
  if (el.value.trim() === '' || !Number.isFinite(v)) throw new Error(`${name} must be a number, got "${el.value}"`);
  return v;
}

function readSettings(m: LoadedModel): RunSettings {
  return {
    promptLabel: m.embeds ? `embeddings:${m.embeds.promptName}` : $.prompt.value.trim(),
    negative: takesNegativeText(m) && !m.embeds ? $.negative.value : undefined,
    decoder: chosenDecoder(m).key,
    steps: intInput($.steps, 'steps'),
    guidance: intInput($.guidance, 'guidance'),
    seed: intInput($.seed, 'seed'),
    frames: intInput($.frames, 'frames'),
    height: intInput($.height, 'height'),
    width: intInput($.width, 'width'),
    cache: parseCacheSpec(cacheSpec()),
  };
}

/** Runs of this session, by everything but the cache, so a cached run can be compared with `none`. */
const sessionRuns = new Map<string, { uncached?: RunRecord; cached?: RunRecord }>();
interface RunRecord {
  seconds: number;
  frames: Float32Array;
  spec: string;
  /** The first run of its policy and size on this page: its time includes compiling GPU kernels. */
  cold: boolean;
}

/** Policies and sizes already run once per model (their kernels are compiled). */
const warmed = new Set<string>();

function runKey(m: LoadedModel, s: RunSettings): string {
  const { cache: _cache, ...rest } = s;
  return JSON.stringify([m.key, rest]);
}

function refreshControls(): void {
  const ready = !!model && !running;
  $.generate.disabled = !ready;
  $.abort.hidden = !running;
  $.generate.textContent = running ? 'Generating…' : 'Generate';
}

async function onGenerate(event: Event): Promise<void> {
  event.preventDefault();
  if (!model || running) return;
  const m = model;
  notice($.message, '');
  let settings: RunSettings;
  let prompt: ReturnType<typeof promptOf>;
  let releaseTransformer = false;
  try {
    settings = readSettings(m);
    prompt = promptOf(m, $.prompt.value, settings.negative);
    const refusal = sizeControls.refusal();
    if (refusal) throw new Error(refusal);
    releaseTransformer = sizeControls.releasesTransformer();
  } catch (e) {
    notice($.message, errorMessage(e), 'error');
    document.body.dataset.lastRun = 'error';
    return;
  }
  const controller = new AbortController();
  running = controller;
  refreshControls();
  setPageState('generating');
  $.runProgress.hidden = false;
  $.runBar.removeAttribute('value');
  $.runLabel.textContent = 'Preparing…';
  $.runEta.textContent = '';
  try {
    // After a lost device the context is new: the model is loaded again on it first.
    const { ctx, bundle } = await liveBundle(m.key, m.bundle, (status) => {
      $.runLabel.textContent = `The GPU was reset: loading the model again (${Math.round((100 * status.loadedBytes) / Math.max(1, status.totalBytes))}%)…`;
    });
    if (bundle !== m.bundle && m.previewDecoder) {
      // The TAEHV preview lived on the lost device: it is gone with it (load the file again for previews).
      m.previewDecoder = undefined;
      $.decoderGroup.hidden = true;
      $.decoderChoice.value = 'model';
    }
    m.bundle = bundle;
    const decoder = chosenDecoder(m);
    const promptStore = await sharedPromptStore();
    const result = await runExclusive(
      () =>
        generateStaged(ctx, bundle, {
          prompt: prompt.prompt,
          negativePrompt: prompt.negativePrompt,
          frames: settings.frames,
          height: settings.height,
          width: settings.width,
          steps: settings.steps,
          guidance: settings.guidance,
          seed: settings.seed,
          cache: settings.cache,
          signal: controller.signal,
          promptStore,
          releaseTransformer,
          decoder: decoder.key === 'preview' ? decoder.decoder : undefined,
          onStage: (stage) => showStage({ bar: $.runBar, label: $.runLabel, eta: $.runEta }, stage, decoder.name),
        }),
      controller.signal,
    );
    $.runBar.removeAttribute('value');
    $.runLabel.textContent = 'Encoding the video…';
    const encoded = await encodeClip(result.frames, result.shape);
    const warmKey = JSON.stringify([m.key, settings.cache.policy, settings.frames, settings.height, settings.width]);
    const cold = !warmed.has(warmKey);
    warmed.add(warmKey);
    showClip(encoded, settings);
    showResults(m, result, settings, cold);
    document.body.dataset.lastRun = 'done';
  } catch (e) {
    if (e instanceof AbortError) {
      notice($.message, 'Stopped. The clip was not finished; change the settings or generate again.', 'info');
      document.body.dataset.lastRun = 'aborted';
    } else {
      notice($.message, errorMessage(e), 'error');
      document.body.dataset.lastRun = 'error';
    }
  } finally {
    running = undefined;
    $.runProgress.hidden = true;
    refreshControls();
    setPageState('ready');
  }
}

function showClip(encoded: Clip, s: RunSettings): void {
  if (clip) URL.revokeObjectURL(clip.url);
  const url = URL.createObjectURL(encoded.blob);
  const spec = formatCacheSpec(s.cache).replace(/[^a-z0-9.=-]+/gi, '_');
  clip = { clip: encoded, url, fileName: `webdit-seed${s.seed}-${spec}${encoded.extension}` };
  $.video.src = url;
  $.stage.style.setProperty('--clip-aspect', `${encoded.width} / ${encoded.height}`);
  $.placeholder.hidden = true;
  $.video.play().catch(() => {
    $.video.controls = true;
  });
  $.download.disabled = false;
  $.download.textContent = `Download (${formatName(encoded)})`;
  $.download.title = `${encoded.mimeType}, ${formatBytes(encoded.blob.size)}`;
  $.clipInfo.textContent = `${encoded.frameCount} frames at ${encoded.fps} fps, ${encoded.width / encoded.scale}×${encoded.height / encoded.scale} shown ${encoded.scale}× larger`;
}

/** "MP4", "WebM" as people name the file types they share. */
function formatName(encoded: Clip): string {
  return encoded.container === 'mp4' ? 'MP4' : 'WebM';
}

function showResults(m: LoadedModel, result: GenerateResult, s: RunSettings, cold: boolean): void {
  const stats = result.stats;
  const spec = formatCacheSpec(s.cache);
  $.metrics.hidden = false;
  $.mTime.textContent = formatSeconds(result.seconds);
  $.mTime.title = `sampling ${formatSeconds(result.samplingSeconds)}, decoding ${formatSeconds(result.decodeSeconds)}`;
  $.mReuse.textContent = formatPercent(1 - stats.computedFraction);

  const key = runKey(m, s);
  const entry = sessionRuns.get(key) ?? {};
  const record: RunRecord = { seconds: result.seconds, frames: result.frames, spec, cold };
  if (s.cache.policy === 'none') entry.uncached = record;
  else entry.cached = record;
  sessionRuns.set(key, entry);
  const { uncached, cached } = entry;
  if (uncached && cached) {
    const speedup = uncached.seconds / cached.seconds;
    const same = psnr(cached.frames, uncached.frames);
    $.mSpeedup.replaceChildren(`${speedup.toFixed(2)}×`);
    if (uncached.cold || cached.cold) $.mSpeedup.append(h('small', { title: 'A first run also compiles GPU kernels' }, ' · first run'));
    $.mPsnr.textContent = formatPsnr(same);
    $.mPsnr.title = same === Infinity ? 'identical frames' : '';
    $.mSpeedupBox.classList.toggle('good', speedup > 1 && !uncached.cold && !cached.cold);
    $.compareNote.hidden = false;
    $.compareNote.textContent =
      `Speedup and PSNR compare ${cached.spec} with the uncached run of the same prompt, seed and settings (${formatSeconds(uncached.seconds)}).` +
      (uncached.cold || cached.cold
        ? ' One of them was the first run of its policy on this page, whose time includes compiling the GPU kernels: generate both again for a fair speedup.'
        : '');
  } else {
    $.mSpeedup.textContent = '–';
    $.mPsnr.textContent = '–';
    $.mSpeedupBox.classList.remove('good');
    $.compareNote.hidden = false;
    $.compareNote.textContent =
      s.cache.policy === 'none'
        ? 'This run computed every block. Run the same settings with a cache policy to see its speedup and PSNR against this one.'
        : 'Run the same prompt, seed and settings with cache “none” to measure the speedup and PSNR against the uncached clip.';
  }

  const cond = stats.branches.cond;
  $.heatmap.className = '';
  $.indicator.className = '';
  // Without a cache there are no branch statistics: every block ran at every step.
  const computed = cond?.computed ?? Array.from({ length: stats.steps }, () => new Array<boolean>(stats.numLayers).fill(true));
  $.heatmap.replaceChildren(heatmap(computed, { title: `Blocks × steps for ${spec}` }));
  // What measuring the indicator cost (GPU time of its kernels, where the adapter has timestamp queries).
  const ms = stats.indicatorMs;
  $.indicatorCost.hidden = !(ms !== null && ms > 0);
  if (ms !== null && ms > 0) {
    $.indicatorCost.textContent = `Measuring it took ${ms < 10 ? ms.toFixed(1) : ms.toFixed(0)} ms of GPU time, ${formatPercent(ms / (result.seconds * 1000), 1)} of this run.`;
  }
  const values = cond?.indicator ?? [];
  if (values.some((v) => v !== null)) {
    const threshold = 'threshold' in s.cache ? s.cache.threshold : undefined;
    $.indicator.replaceChildren(
      lineChart([{ label: 'indicator', values }], {
        xLabel: 'step',
        yLabel: s.cache.policy === 'teacache' ? 'accumulated change' : 'relative L1 change',
        threshold: threshold === undefined ? undefined : { value: threshold, label: `δ = ${threshold}` },
        title: `${spec}: indicator per step`,
      }),
    );
  } else {
    $.indicator.className = 'empty-chart';
    $.indicator.textContent =
      s.cache.policy === 'none'
        ? 'No indicator: with cache “none” every block is computed at every step.'
        : `No indicator: the ${s.cache.policy} policy follows a fixed schedule.`;
  }
}

// ---- wiring --------------------------------------------------------------------------------------

$.form.addEventListener('submit', (e) => void onGenerate(e));
$.abort.addEventListener('click', () => {
  running?.abort();
  $.runLabel.textContent = 'Stopping after this step…';
});
$.policy.addEventListener('change', onPolicyChange);
$.param.addEventListener('input', updateSpec);
$.prompt.addEventListener('input', updatePromptState);
$.negativeReset.addEventListener('click', () => {
  $.negative.value = model?.bundle.negativePrompt ?? '';
  sizeControls.refresh();
});
// The plan and the estimate follow every setting (prompt lengths, steps, guidance, cache, decoder).
$.form.addEventListener('input', () => sizeControls.refresh());
$.form.addEventListener('change', () => sizeControls.refresh());
$.newSeed.addEventListener('click', () => {
  $.seed.value = String(Math.floor(Math.random() * 1e6));
});
$.download.addEventListener('click', () => {
  if (clip) downloadBlob(clip.clip.blob, clip.fileName);
});
$.video.addEventListener('error', () => {
  notice($.message, `This browser could not play the ${clip ? formatName(clip.clip) : 'video'} clip (${$.video.error?.message || 'media error'}); use Download to save it.`, 'error');
});

async function main(): Promise<void> {
  onPolicyChange();
  refreshControls();
  setPageState('starting');
  const ctx = await startWebGpu($.badge);
  if (!ctx) {
    $.placeholderText.textContent = 'This browser has no WebGPU, so the model cannot run here.';
    for (const el of $.form.querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, textarea, select, button')) el.disabled = true;
    $.loadPanel.hidden = true;
    $.modelName.textContent = 'not loaded';
    return;
  }
  initVideoEncoder().catch((e: unknown) => notice($.message, errorMessage(e), 'error'));
  setPageState('loading');
  const ok = await loader.loadShipped();
  if (!ok) {
    setPageState('failed');
    $.modelName.textContent = 'not loaded';
    $.placeholderText.textContent = 'Load a model below to start.';
  }
}

void main();
