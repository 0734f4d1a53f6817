// <webdit-video>: a text-to-video player for any page. Importing this module defines the element.
//
//   <script type="module" src="webdit.js"></script>
//   <webdit-video prompt="a red circle moving right on a black background" cache="bwcache" autoplay></webdit-video>
//
// Attributes: model (URL of a model folder: webdit's, or a Wan2.1 diffusers folder; default: the
// shipped model beside the module), prompt, negative-prompt (default: the model's, Wan2.1's own for a
// Wan folder), steps, guidance, seed, frames, width, height, cache (a spec: none, bwcache, bwcache:threshold=0.2,
// static, first-block, teacache), autoplay (generate when attached), decoder (URL of a TAEHV file, for
// latent-space models), embeds / negative-embeds (URLs of prompt_embeds safetensors, for models without a
// text encoder in webdit). Methods: generate() → Promise<result>, abort(). Events: loadprogress
// {phase: 'download' | 'gpu', path?, loadedBytes, totalBytes}, progress {stage: 'encode', fromStore} |
// {stage: 'encode-layer', layer, layers} | {stage: 'release', liveBytes, seconds} |
// {stage: 'sample', step, steps, elapsedMs, etaMs} | {stage: 'decode'} | {stage: 'video'}, done
// {seconds, frameCount, stats}, error {message}. A Wan2.1 prompt's umT5 embeddings are kept in
// IndexedDB (src/ui/prompt-store.ts): the same prompt again skips the encoder. Every instance on a page shares one GPU device, one copy of each model's weights,
// and one queue of generations (src/ui/engine.ts).

import type { CacheStats } from '../cache/manager.ts';
import { AbortError, type GenerateProgress, type PromptEmbedding } from '../pipeline/generate.ts';
import { checkRequest, generateVideo, type GenerateRequest, type GenerateStage, type VideoResult } from '../pipeline/generate-video.ts';
import { urlFolder } from '../weights/folder.ts';
import { urlSource } from '../weights/source.ts';
import { queueLength, runExclusive, sharedContext, sharedModel, type LoadStatus, type SharedModel } from './engine.ts';
import { NEGATIVE_TENSORS, PROMPT_TENSORS, readPromptEmbedding } from './embeddings.ts';
import { encodeClip } from './video.ts';
import { describeLoad, errorMessage, formatBytes, formatSeconds } from './format.ts';
import { shippedModelUrl } from './model.ts';
import { sharedPromptStore } from './prompt-store.ts';

export interface WebditVideoResult extends VideoResult {
  /** The clip as a video file (what the element plays): MP4 (H.264) where the browser encodes it, else WebM; `video.type` says which. */
  video: Blob;
}

/** A `progress` event's detail: the stage a run is in (sampling with its step). */
export type WebditProgressDetail = GenerateStage | { stage: 'video' } | ({ stage: 'sample' } & GenerateProgress);

export interface WebditDoneDetail {
  seconds: number;
  frameCount: number;
  stats: CacheStats;
}

const TEMPLATE = `
<style>
  :host { display: inline-block; width: 256px; max-width: 100%; vertical-align: top; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: #e5e7eb; }
  :host([hidden]) { display: none; }
  .frame { position: relative; width: 100%; aspect-ratio: var(--webdit-aspect, 1); background: #0f172a; border-radius: 10px; overflow: hidden; }
  video { display: block; width: 100%; height: 100%; object-fit: contain; image-rendering: pixelated; background: #0f172a; }
  video:not([src]) { visibility: hidden; }
  .overlay { position: absolute; inset: 0; display: flex; flex-direction: column; align-items: center; justify-content: center; gap: 10px; padding: 14px; text-align: center; background: rgba(15, 23, 42, 0.55); }
  .overlay[hidden] { display: none; }
  button { font: inherit; font-weight: 600; color: #0f172a; background: #e0e7ff; border: 0; border-radius: 999px; padding: 7px 16px; cursor: pointer; }
  button:hover { background: #fff; }
  button:focus-visible { outline: 2px solid #a5b4fc; outline-offset: 2px; }
  .status { width: 100%; max-width: 220px; display: flex; flex-direction: column; gap: 6px; align-items: stretch; }
  .status[hidden] { display: none; }
  progress { width: 100%; height: 6px; appearance: none; border: 0; border-radius: 3px; background: rgba(255,255,255,0.2); overflow: hidden; }
  progress::-webkit-progress-bar { background: rgba(255,255,255,0.2); }
  progress::-webkit-progress-value { background: #a5b4fc; }
  progress::-moz-progress-bar { background: #a5b4fc; }
  .label { font-variant-numeric: tabular-nums; }
  .error { color: #fecaca; max-height: 100%; overflow: auto; }
  .caption { color: #cbd5e1; font-size: 12px; max-width: 90%; }
  .caption[hidden] { display: none; }
  .error[hidden] { display: none; }
</style>
<div class="frame" part="frame">
  <video part="video" loop muted playsinline></video>
  <div class="overlay" part="overlay">
    <button type="button" class="start" part="button">▶ Generate</button>
    <div class="caption" part="caption"></div>
    <div class="status" hidden><progress max="1"></progress><span class="label"></span></div>
    <div class="error" role="alert" hidden></div>
  </div>
</div>`;

/** A number attribute, or undefined where absent (the generate entry then takes the model's default). */
function numberAttr(el: HTMLElement, name: string): number | undefined {
  const raw = el.getAttribute(name);
  if (raw === null || raw.trim() === '') return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v)) throw new Error(`<webdit-video> ${name}="${raw}" is not a number`);
  return v;
}

export class WebditVideo extends HTMLElement {
  static readonly observedAttributes = ['width', 'height', 'prompt', 'negative-prompt'];

  private readonly shadow: ShadowRoot;
  private readonly video: HTMLVideoElement;
  private readonly overlay: HTMLElement;
  private readonly startButton: HTMLButtonElement;
  private readonly status: HTMLElement;
  private readonly bar: HTMLProgressElement;
  private readonly label: HTMLElement;
  private readonly errorBox: HTMLElement;
  private readonly caption: HTMLElement;
  private controller: AbortController | undefined;
  private videoUrl: string | undefined;
  private autoStarted = false;

  constructor() {
    super();
    this.shadow = this.attachShadow({ mode: 'open' });
    this.shadow.innerHTML = TEMPLATE;
    const q = <T extends Element>(sel: string) => this.shadow.querySelector(sel) as T;
    this.video = q('video');
    this.overlay = q('.overlay');
    this.startButton = q('.start');
    this.status = q('.status');
    this.bar = q('progress');
    this.label = q('.label');
    this.errorBox = q('.error');
    this.caption = q('.caption');
    this.startButton.addEventListener('click', () => {
      this.generate().catch(() => {
        // Reported by the error event and on the element.
      });
    });
  }

  connectedCallback(): void {
    this.updateAspect();
    if (this.hasAttribute('autoplay') && !this.autoStarted) {
      this.autoStarted = true;
      queueMicrotask(() => {
        this.generate().catch(() => {});
      });
    }
  }

  disconnectedCallback(): void {
    this.abort();
  }

  attributeChangedCallback(): void {
    this.updateAspect();
    this.caption.textContent = this.getAttribute('prompt') ?? '';
  }

  /** The model folder's URL (attribute `model`, relative to the page), or the shipped model. */
  get modelUrl(): string {
    const attr = this.getAttribute('model');
    return attr ? new URL(attr, document.baseURI).href : shippedModelUrl();
  }

  /** True while a generation of this element is loading, queued or running. */
  get busy(): boolean {
    return this.controller !== undefined;
  }

  /** Stops this element's run; its generate() promise rejects with an AbortError. */
  abort(): void {
    this.controller?.abort();
  }

  /**
   * Loads the model (once per page), generates a clip from the attributes and plays it. A call while
   * another run of this element is in progress stops that run first.
   */
  async generate(): Promise<WebditVideoResult> {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    const { signal } = controller;
    const aborted = new Promise<never>((_, reject) => {
      const fail = () => reject(new AbortError());
      if (signal.aborted) fail();
      else signal.addEventListener('abort', fail, { once: true });
    });
    aborted.catch(() => {});
    const untilAborted = <T>(p: Promise<T>) => Promise.race([p, aborted]);
    this.showStatus(undefined, 'Starting WebGPU…');
    try {
      const model = await untilAborted(this.loadModel());
      const { bundle } = model;
      const request: GenerateRequest = {
        prompt: await untilAborted(this.promptOf(model)),
        negativePrompt: await untilAborted(this.negativeOf(model)),
        frames: numberAttr(this, 'frames'),
        height: numberAttr(this, 'height'),
        width: numberAttr(this, 'width'),
        steps: numberAttr(this, 'steps'),
        guidance: numberAttr(this, 'guidance'),
        seed: numberAttr(this, 'seed'),
        cache: this.getAttribute('cache') || 'bwcache',
        signal,
        onProgress: (p) => this.onStep(p),
        onStage: (stage) => this.onStage(stage),
        promptStore: bundle.promptEncoder ? await untilAborted(sharedPromptStore()) : undefined,
      };
      const ctx = await sharedContext();
      checkRequest(bundle, request, ctx.limits); // a bad attribute fails now, not after waiting for the GPU queue
      if (queueLength() > 0) this.showStatus(undefined, 'Waiting for the GPU…');
      const result = await runExclusive(() => generateVideo(ctx, bundle, request), signal);
      this.showStatus(1, 'Encoding video…');
      this.dispatchEvent(new CustomEvent<WebditProgressDetail>('progress', { detail: { stage: 'video' } }));
      const clip = await encodeClip(result.frames, result.shape);
      if (signal.aborted) throw new AbortError();
      this.play(clip.blob);
      this.dispatchEvent(
        new CustomEvent<WebditDoneDetail>('done', { detail: { seconds: result.seconds, frameCount: result.shape[0], stats: result.stats } }),
      );
      return { ...result, video: clip.blob };
    } catch (e) {
      const message = e instanceof AbortError || signal.aborted ? 'generation aborted' : errorMessage(e);
      if (this.controller === controller) this.showError(message);
      this.dispatchEvent(new CustomEvent('error', { detail: { message } }));
      throw signal.aborted && !(e instanceof AbortError) ? new AbortError() : e;
    } finally {
      if (this.controller === controller) this.controller = undefined;
    }
  }

  private loadModel(): Promise<SharedModel> {
    const url = this.modelUrl;
    const decoderAttr = this.getAttribute('decoder');
    const decoderUrl = decoderAttr ? new URL(decoderAttr, document.baseURI).href : undefined;
    const key = decoderUrl ? `${url} + ${decoderUrl}` : url;
    this.showStatus(undefined, 'Loading the model…');
    return (async () =>
      sharedModel(key, () => urlFolder(url), {
        decoder: decoderUrl ? await urlSource(decoderUrl) : undefined,
        cache: true,
        onProgress: (status) => {
          if (this.controller?.signal.aborted) return;
          const { fraction } = describeLoad(status);
          const what = status.phase === 'download' ? 'Downloading the model' : 'Loading the model';
          this.showStatus(fraction, `${what}… ${formatBytes(status.loadedBytes)} / ${formatBytes(status.totalBytes)}`);
          this.dispatchEvent(new CustomEvent<LoadStatus>('loadprogress', { detail: { ...status } }));
        },
      }))();
  }

  /** The `embeds` file, else the `prompt` text (encoded by the generate entry with the model's encoder). */
  private async promptOf(model: SharedModel): Promise<string | PromptEmbedding> {
    const embeds = this.getAttribute('embeds');
    const textDim = model.bundle.model.config.textDim;
    if (embeds) return readPromptEmbedding(await urlSource(new URL(embeds, document.baseURI).href), PROMPT_TENSORS, textDim);
    if (!model.bundle.textEncoder && !model.bundle.promptEncoder) throw new Error(`${model.bundle.name} has no text encoder in webdit: give the embeds attribute (a prompt_embeds .safetensors URL)`);
    return this.getAttribute('prompt') ?? '';
  }

  /** The `negative-embeds` file, else the `negative-prompt` text, else undefined: the model's own negative prompt. */
  private async negativeOf(model: SharedModel): Promise<string | PromptEmbedding | undefined> {
    const url = this.getAttribute('negative-embeds');
    if (url) return readPromptEmbedding(await urlSource(new URL(url, document.baseURI).href), NEGATIVE_TENSORS, model.bundle.model.config.textDim);
    return this.getAttribute('negative-prompt') ?? undefined;
  }

  private onStep(p: GenerateProgress): void {
    this.showStatus(p.step / p.steps, `Step ${p.step} / ${p.steps} · ${formatSeconds(p.etaMs / 1000)} left`);
    this.dispatchEvent(new CustomEvent<WebditProgressDetail>('progress', { detail: { stage: 'sample', ...p } }));
  }

  private onStage(stage: GenerateStage): void {
    if (stage.stage === 'sample') return; // its steps are the progress events
    if (stage.stage === 'encode') this.showStatus(undefined, stage.fromStore ? 'Prompt embeddings from this browser…' : 'Encoding the prompt…');
    else if (stage.stage === 'encode-layer') this.showStatus(undefined, `Encoding the prompt: layer ${stage.layer} of ${stage.layers}…`);
    else if (stage.stage === 'release') this.showStatus(undefined, 'Prompt encoded…');
    else this.showStatus(undefined, 'Decoding the video…');
    this.dispatchEvent(new CustomEvent<WebditProgressDetail>('progress', { detail: { ...stage } }));
  }

  private play(blob: Blob): void {
    if (this.videoUrl) URL.revokeObjectURL(this.videoUrl);
    this.videoUrl = URL.createObjectURL(blob);
    this.video.src = this.videoUrl;
    this.overlay.hidden = true;
    this.video.play().catch(() => {
      // Autoplay refused (muted videos are normally allowed): the user can press play.
      this.video.controls = true;
    });
  }

  private showStatus(fraction: number | undefined, text: string): void {
    this.overlay.hidden = false;
    this.startButton.hidden = true;
    this.caption.hidden = true;
    this.errorBox.hidden = true;
    this.status.hidden = false;
    if (fraction === undefined) this.bar.removeAttribute('value');
    else this.bar.value = fraction;
    this.label.textContent = text;
  }

  private showError(message: string): void {
    this.overlay.hidden = false;
    this.status.hidden = true;
    this.errorBox.hidden = false;
    this.errorBox.textContent = message;
    this.caption.hidden = true;
    this.startButton.hidden = false;
    this.startButton.textContent = this.video.hasAttribute('src') ? '↻ Generate again' : '▶ Generate';
  }

  private updateAspect(): void {
    const w = Number(this.getAttribute('width'));
    const h = Number(this.getAttribute('height'));
    if (w > 0 && h > 0) this.style.setProperty('--webdit-aspect', `${w} / ${h}`);
  }
}

/** Defines <webdit-video> (once; importing this module already does). */
export function defineWebditVideo(name = 'webdit-video'): void {
  if (typeof customElements !== 'undefined' && !customElements.get(name)) customElements.define(name, WebditVideo);
}

defineWebditVideo();

declare global {
  interface HTMLElementTagNameMap {
    'webdit-video': WebditVideo;
  }
}
