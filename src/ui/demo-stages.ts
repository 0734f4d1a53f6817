// The demo's progress line through a run's stages (umT5 layers, the encoder released, sampling steps,
// decoding), and the umT5 token counts the memory plan and the time estimate need.

import { formatGiB } from '../pipeline/preflight.ts';
import { formatSeconds } from './format.ts';
import type { LoadedModel } from './model.ts';
import type { RunStage } from './staged-run.ts';

export interface ProgressLine {
  bar: HTMLProgressElement;
  label: HTMLElement;
  eta: HTMLElement;
}

export function showStage($: ProgressLine, s: RunStage, decoderName: string): void {
  if (s.stage === 'encode') {
    $.bar.value = 0;
    $.label.textContent = s.fromStore ? 'Prompt embeddings from this browser (umT5 not needed)' : 'Encoding the prompt with umT5 (streamed)…';
    $.eta.textContent = '';
  } else if (s.stage === 'encode-layer') {
    $.bar.value = s.layer / s.layers;
    $.label.textContent = `Encoding the prompt with umT5 (streamed): layer ${s.layer} of ${s.layers}`;
    $.eta.textContent = '';
  } else if (s.stage === 'release') {
    $.bar.removeAttribute('value');
    $.label.textContent = `umT5 released after ${formatSeconds(s.seconds)}: ${formatGiB(s.liveBytes)} stay on the GPU (the transformer's and the decoder's weights)`;
  } else if (s.stage === 'sample') {
    $.bar.value = s.step / s.steps;
    $.label.textContent = `Step ${s.step} of ${s.steps}`;
    $.eta.textContent = s.step < s.steps ? `about ${formatSeconds(s.etaMs / 1000)} left` : `${formatSeconds(s.elapsedMs / 1000)}`;
  } else {
    // The label keeps "Step n of n" (the last step's report comes in the same tick); the decoder shows beside it.
    $.bar.removeAttribute('value');
    $.eta.textContent = `sampled in ${$.eta.textContent} · decoding with ${decoderName}…`;
  }
}

/** Tokens of the prompt and the negative prompt as umT5 sees them (0 when umT5 does not encode the text). */
export function umt5Tokens(m: LoadedModel, prompt: string, negative: string, guidance: number): { promptTokens: number; negativeTokens: number } {
  const encoder = m.bundle.promptEncoder;
  if (!encoder || m.embeds) return { promptTokens: 0, negativeTokens: 0 };
  const count = (text: string) => Math.min(m.bundle.textLen, encoder.tokenizer.encode(text).length);
  return { promptTokens: count(prompt), negativeTokens: guidance > 1 ? count(negative) : 0 };
}
