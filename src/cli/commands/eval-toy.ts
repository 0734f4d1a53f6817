import { checkModelPath } from '../check-paths.ts';
import { readFile } from 'node:fs/promises';
import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { createNodeContext } from '../../gpu/node.ts';
import { generateVideo, type GenerateSettings } from '../../pipeline/generate-video.ts';
import { formatCacheSpec } from '../../cache/spec.ts';
import { TOY_PALETTE, defaultToyPrompts, judgeToyClip, parseToyCaption, toyCaption, type ToyPrompt } from '../../pipeline/toy-eval.ts';
import { loadBundleFromArgs, samplingFromArgs } from '../model-args.ts';

interface ClipResult {
  prompt: string;
  seed: number;
  colour: string | null;
  direction: string | null;
  shape: string | null;
  colourOk: boolean;
  motionOk: boolean;
  shapeOk: boolean;
  velocity: number[];
  seconds: number;
}

const evalToy: Command = {
  summary: 'Generate clips for a fixed set of prompts and seeds on the toy model and judge colour and motion automatically.',
  usage: 'webdit eval-toy [--model DIR] [--prompts FILE (one caption per line)] [--prompt TEXT] [--seeds 0] [--steps N] [--guidance G] [--cache SPEC] [--json]',
  async run(options) {
    const modelDir = options.string('model');
    const promptsFile = options.string('prompts');
    const single = options.string('prompt');
    const seeds = (options.string('seeds') ?? '0').split(',').map(Number);
    const cacheSpec = options.string('cache') ?? 'none';
    const json = options.flag('json');
    if (seeds.some((s) => !Number.isInteger(s) || s < 0)) throw new UsageError('eval-toy: --seeds must be non-negative integers');
    let prompts: ToyPrompt[] = defaultToyPrompts();
    const captions = single !== undefined ? [single] : promptsFile ? (await readFile(promptsFile, 'utf8')).split('\n').map((l) => l.trim()).filter(Boolean) : undefined;
    if (captions) {
      prompts = captions.map((c) => {
        const p = parseToyCaption(c);
        if (!p) throw new UsageError(`eval-toy: "${c}" is not a toy caption ("a {colour} {shape} moving {direction} on a {background} background")`);
        return p;
      });
    }
    const sampling = samplingFromArgs(options);
    options.finish();
    if (modelDir !== undefined) checkModelPath('eval-toy', modelDir);
    const ctx = await createNodeContext();
    const bundle = await loadBundleFromArgs(ctx, modelDir, undefined);
    try {
      if (!bundle.textEncoder) throw new Error(`${bundle.name} has no text encoder: eval-toy judges the toy model`);
      const results: ClipResult[] = [];
      let settings: GenerateSettings | undefined;
      for (const p of prompts) {
        for (const seed of seeds) {
          const caption = toyCaption(p);
          const r = await generateVideo(ctx, bundle, { prompt: caption, ...sampling, seed, cache: cacheSpec });
          settings = r.settings;
          const j = judgeToyClip(r.frames, r.shape, TOY_PALETTE.backgrounds[p.background]);
          const entry: ClipResult = {
            prompt: caption,
            seed,
            colour: j.colour,
            direction: j.direction,
            shape: j.shape,
            colourOk: j.colour === p.colour,
            motionOk: j.direction === p.direction,
            shapeOk: j.shape === p.shape,
            velocity: j.velocity.map((v) => Math.round(v * 100) / 100),
            seconds: Math.round(r.seconds * 100) / 100,
          };
          results.push(entry);
          if (!json) console.error(`${entry.colourOk ? '✓' : '✗'} colour ${entry.motionOk ? '✓' : '✗'} motion  ${caption} (seed ${seed}) → ${j.colour ?? '-'}, ${j.direction ?? '-'}, ${j.shape ?? '-'} in ${entry.seconds}s`);
        }
      }
      const rate = (k: 'colourOk' | 'motionOk' | 'shapeOk') => results.filter((r) => r[k]).length / results.length;
      const summary = {
        model: bundle.name,
        cache: formatCacheSpec(settings!.cache),
        steps: settings!.steps,
        guidance: settings!.guidance,
        clips: results.length,
        colourAccuracy: rate('colourOk'),
        motionAccuracy: rate('motionOk'),
        shapeAccuracy: rate('shapeOk'),
        results,
      };
      if (json) console.log(JSON.stringify(summary, null, 2));
      else console.log(`colour ${(summary.colourAccuracy * 100).toFixed(1)}%, motion ${(summary.motionAccuracy * 100).toFixed(1)}%, shape ${(summary.shapeAccuracy * 100).toFixed(1)}% over ${results.length} clips`);
    } finally {
      bundle.dispose();
      ctx.destroy();
    }
  },
};
export default evalToy;
