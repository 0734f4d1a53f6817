// The demo's Size group for a loaded model: a preset selector (the model's own size, and the browser
// presets for a Wan2.1 folder) over the frames/height/width fields; for a Wan2.1 folder, the GPU memory
// the user says the adapter has, the memory plan per stage for the chosen size (refused, naming the
// largest size that fits, when it does not fit), and a time estimate from a short measurement made once
// per model and decoder on this adapter.

import type { CacheConfig } from '../cache/policies.ts';
import type { VideoDecoder } from '../decoder/decoder.ts';
import { estimateTime, videoTokens, type Measurement } from '../pipeline/estimate.ts';
import { formatGiB } from '../pipeline/preflight.ts';
import type { VideoSize } from '../pipeline/memory-plan.ts';
import { errorMessage, formatSeconds } from './format.ts';
import type { LoadedModel } from './model.ts';
import { cachePlanOf, checkPlan, formatStages, sizeChoices, sizeLabel, type AdapterBudget, type PlanCheck, type SizeChoice } from './size-plan.ts';

const GiB = 2 ** 30;
const CUSTOM = 'custom';

export interface SizeElements {
  preset: HTMLSelectElement;
  frames: HTMLInputElement;
  height: HTMLInputElement;
  width: HTMLInputElement;
  hint: HTMLElement;
  memory: HTMLInputElement;
  plan: HTMLElement;
  estimate: HTMLElement;
}

/** What the plan and the estimate need beside the size (undefined while a field is not a number). */
export interface RunShape {
  steps: number;
  guidance: number;
  cache: CacheConfig;
  promptTokens: number;
  negativeTokens: number;
  decoder: VideoDecoder;
  /** 'model' or 'preview': the measurement is kept per decoder. */
  decoderKey: string;
}

export interface SizeHooks {
  /** The adapter's buffer limits. */
  limits(): Promise<Pick<AdapterBudget, 'maxBufferSize' | 'maxStorageBufferBindingSize'>>;
  /** Times one block and one small decode of the model on this adapter (queued behind generations). */
  measure(model: LoadedModel, decoder: VideoDecoder): Promise<Measurement>;
  /** The rest of the run's settings, or undefined while one of them is invalid. */
  shape(): RunShape | undefined;
}

export class SizeControls {
  private model: LoadedModel | undefined;
  private choices: SizeChoice[] = [];
  private limits: Pick<AdapterBudget, 'maxBufferSize' | 'maxStorageBufferBindingSize'> | undefined;
  private readonly measurements = new Map<string, Promise<Measurement>>();
  private lastCheck: PlanCheck | undefined;

  constructor(
    private readonly $: SizeElements,
    private readonly hooks: SizeHooks,
  ) {
    $.preset.addEventListener('change', () => this.applyPreset());
    for (const el of [$.frames, $.height, $.width]) el.addEventListener('input', () => this.syncPreset());
    $.memory.addEventListener('input', () => this.refresh());
    const saved = globalThis.localStorage?.getItem('webdit.gpuMemoryGiB');
    if (saved && Number(saved) > 0) $.memory.value = saved;
  }

  /** The memory the user gave, in bytes (NaN when the field is not a positive number). */
  memoryBytes(): number {
    const gib = Number(this.$.memory.value);
    return this.$.memory.value.trim() !== '' && gib > 0 ? gib * GiB : NaN;
  }

  async budget(): Promise<AdapterBudget> {
    this.limits ??= await this.hooks.limits();
    const memoryBytes = this.memoryBytes();
    if (!Number.isFinite(memoryBytes)) throw new Error(`the GPU memory (under Size) must be a positive number of GiB, got "${this.$.memory.value}"`);
    return { memoryBytes, ...this.limits };
  }

  setModel(model: LoadedModel): void {
    this.model = model;
    const d = model.bundle.defaults;
    this.choices = sizeChoices(d, !!model.wan);
    const options = this.choices.map((c) => new Option(c.label, c.key));
    this.$.preset.replaceChildren(...options, new Option('custom', CUSTOM));
    this.$.hint.textContent = `The model's size: ${d.frames} frames of ${d.width}×${d.height}.`;
    this.setSize(d);
    void this.hooks.limits().then((l) => {
      this.limits = l;
      this.refresh();
    });
  }

  private setSize(s: VideoSize): void {
    this.$.frames.value = String(s.frames);
    this.$.height.value = String(s.height);
    this.$.width.value = String(s.width);
    this.syncPreset();
  }

  private applyPreset(): void {
    const choice = this.choices.find((c) => c.key === this.$.preset.value);
    if (choice) this.setSize(choice.size);
  }

  /** The preset matching the fields, else "custom". */
  private syncPreset(): void {
    const size = this.size();
    const match = size && this.choices.find((c) => c.size.frames === size.frames && c.size.height === size.height && c.size.width === size.width);
    this.$.preset.value = match?.key ?? CUSTOM;
    this.refresh();
  }

  private size(): VideoSize | undefined {
    const [frames, height, width] = [this.$.frames, this.$.height, this.$.width].map((el) => Number(el.value));
    return [frames, height, width].every((v) => Number.isInteger(v) && v > 0) ? { frames, height, width } : undefined;
  }

  /** Why the fields' size cannot run on this adapter (a Wan2.1 folder's plan), else undefined. */
  refusal(): string | undefined {
    this.refresh();
    return this.lastCheck?.refusal;
  }

  /** Whether the current size fits only with the transformer's weights freed for decoding (after refresh()). */
  releasesTransformer(): boolean {
    return !!this.lastCheck?.releaseTransformer;
  }

  /** Plan and estimate for the current fields (cheap: arithmetic, plus one measurement per model and decoder). */
  refresh(): void {
    const m = this.model;
    this.lastCheck = undefined;
    const { plan: planEl, estimate: estimateEl } = this.$;
    if (!m?.wan) {
      planEl.hidden = estimateEl.hidden = true;
      return;
    }
    if (Number.isFinite(this.memoryBytes())) globalThis.localStorage?.setItem('webdit.gpuMemoryGiB', this.$.memory.value.trim());
    const size = this.size();
    const shape = this.hooks.shape();
    planEl.hidden = false;
    planEl.classList.remove('refused');
    if (!size || !shape || !this.limits || !Number.isFinite(this.memoryBytes())) {
      planEl.textContent = !Number.isFinite(this.memoryBytes()) ? 'Give the GPU memory in GiB to see the memory plan.' : 'The memory plan shows once the settings are numbers.';
      estimateEl.hidden = true;
      return;
    }
    const budget = { memoryBytes: this.memoryBytes(), ...this.limits };
    try {
      const planOptions = { textLen: m.bundle.textLen, promptTokens: shape.promptTokens, negativeTokens: shape.negativeTokens, cache: cachePlanOf(shape.cache) };
      const check = checkPlan(m.wan, size, budget, planOptions, this.choices, !!m.bundle.reloadTransformerWeights);
      this.lastCheck = check;
      const released = check.releaseTransformer ? " The transformer's weights are freed for decoding (read again, from the browser's copy, for the next clip)." : '';
      const head = check.plan ? `Memory plan for ${sizeLabel(size)} (GPU): ${formatStages(check.plan)}; ${formatGiB(check.usableBytes)} usable.${released}` : '';
      planEl.textContent = check.refusal ? `${head} Refused: ${check.refusal}`.trim() : head;
      planEl.classList.toggle('refused', !!check.refusal);
    } catch (e) {
      planEl.textContent = `No memory plan for this size: ${errorMessage(e)}`;
    }
    this.showEstimate(m, size, shape);
  }

  private showEstimate(m: LoadedModel, size: VideoSize, shape: RunShape): void {
    const el = this.$.estimate;
    el.hidden = false;
    const key = `${m.key}|${shape.decoderKey}`;
    let measured = this.measurements.get(key);
    if (!measured) {
      measured = this.hooks.measure(m, shape.decoder);
      this.measurements.set(key, measured);
      measured.catch(() => this.measurements.delete(key));
    }
    el.textContent = 'Estimating the time: timing one transformer block and two small decodes on this adapter…';
    measured.then(
      (measurement) => {
        if (this.model !== m || this.hooks.shape()?.decoderKey !== shape.decoderKey) return;
        const current = this.size();
        const now = this.hooks.shape();
        if (!current || !now) return;
        const cfg = m.bundle.model.config;
        const encoder = m.bundle.promptEncoder;
        const e = estimateTime(cfg, measurement, {
          tokens: videoTokens(cfg, now.decoder, current),
          textTokens: m.bundle.textLen,
          steps: now.steps,
          branches: now.guidance > 1 ? 2 : 1,
          pixels: current.frames * current.height * current.width,
          textEncoder: encoder ? { config: encoder.config, tokens: now.promptTokens + now.negativeTokens } : undefined,
        });
        el.dataset.seconds = String(e.totalSeconds);
        el.textContent =
          `Estimated time on this adapter: about ${formatSeconds(e.totalSeconds)} (encode ${formatSeconds(e.encodeSeconds)}, ` +
          `sample ${formatSeconds(e.sampleSeconds)}, decode ${formatSeconds(e.decodeSeconds)}). An estimate: one block at ` +
          `${measurement.block.map((b) => b.tokens).join(' and ')} tokens and two small decodes were timed here and scaled by the work; ` +
          'reading weights and compiling kernels are not counted.';
      },
      (e: unknown) => {
        el.textContent = `No time estimate: the measurement failed (${errorMessage(e)}).`;
      },
    );
  }
}
