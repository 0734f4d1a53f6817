import { checkModelPath, checkOutputPath } from '../check-paths.ts';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { createNodeContext } from '../../gpu/node.ts';
import { TeaCacheCalibrator, fitPolynomial } from '../../cache/calibrate.ts';
import { polyval } from '../../cache/policies.ts';
import { generateVideo, resolveRequest } from '../../pipeline/generate-video.ts';
import { TEACACHE_CALIBRATION_FILE } from '../../pipeline/bundle.ts';
import { SHIPPED_MODEL_DIR, loadBundleFromArgs, promptFromArgs, samplingFromArgs } from '../model-args.ts';

const DEFAULT_PROMPTS = [
  'a red circle moving right on a black background',
  'a blue square moving up on a white background',
  'a yellow triangle moving left on a black background',
];

const calibrate: Command = {
  summary: "Fit TeaCache's rescaling polynomial on the loaded model (uncached runs) and save it next to the model as teacache.json.",
  usage: 'webdit calibrate [--model DIR] [--decoder FILE] [--prompt TEXT | --embeds FILE] [--seeds 0,1] [--steps N] [--degree 4] [--out FILE]',
  async run(options) {
    const modelDir = options.string('model') ?? SHIPPED_MODEL_DIR;
    const decoderPath = options.string('decoder');
    const text = options.string('prompt');
    const embeds = options.string('embeds');
    const seeds = (options.string('seeds') ?? '0,1').split(',').map(Number);
    const degree = options.integer('degree', 4)!;
    const outPath = options.string('out') ?? join(modelDir, TEACACHE_CALIBRATION_FILE);
    if (seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new UsageError('calibrate: --seeds must be non-negative integers');
    const sampling = samplingFromArgs(options);
    options.finish();
    checkModelPath('calibrate', modelDir);
    checkOutputPath('calibrate', outPath, ['.json']);
    const ctx = await createNodeContext();
    const bundle = await loadBundleFromArgs(ctx, modelDir, decoderPath);
    try {
      const texts = embeds !== undefined || text !== undefined || !bundle.textEncoder ? [text] : DEFAULT_PROMPTS;
      const prompts = [];
      for (const t of texts) prompts.push({ label: t ?? embeds, prompt: (await promptFromArgs(bundle, t, embeds, undefined, undefined)).prompt });
      // The request checked whole before any run; the calibrator needs its step count.
      const { settings } = resolveRequest(bundle, { prompt: prompts[0].prompt, ...sampling });
      const xs: number[] = [];
      const ys: number[] = [];
      for (const { label, prompt } of prompts) {
        for (const seed of seeds) {
          const calibrator = new TeaCacheCalibrator(ctx, bundle.model, settings.steps);
          try {
            await generateVideo(ctx, bundle, {
              prompt,
              ...sampling,
              seed,
              blockRunner: (branch, step) => calibrator.runner(branch, step),
            });
            for (const s of await calibrator.samples()) {
              xs.push(s.input);
              ys.push(s.output);
            }
          } finally {
            calibrator.dispose();
          }
          console.error(`calibrate: ${label} seed ${seed}: ${xs.length} samples so far`);
        }
      }
      const coefficients = fitPolynomial(xs, ys, degree);
      const residual = Math.sqrt(xs.reduce((s, x, i) => s + (polyval(coefficients, x) - ys[i]) ** 2, 0) / xs.length);
      const result = { coefficients, degree, samples: xs.length, rmsResidual: residual, steps: settings.steps, guidance: settings.guidance, pairs: xs.map((x, i) => [x, ys[i]]) };
      await writeFile(outPath, JSON.stringify(result, null, 2));
      console.log(JSON.stringify({ coefficients, degree, samples: xs.length, rmsResidual: residual, savedTo: outPath }, null, 2));
    } finally {
      bundle.dispose();
      ctx.destroy();
    }
  },
};
export default calibrate;
