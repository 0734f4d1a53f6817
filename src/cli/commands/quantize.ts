import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Command } from '../main.ts';
import { UsageError } from '../args.ts';
import { openCheckpoint, openCheckpointFile, type Checkpoint } from '../../weights/checkpoint.ts';
import { directoryFolder } from '../../weights/node-folder.ts';
import { fileSource } from '../../weights/node-source.ts';
import { DEFAULT_GROUP_SIZE, quantizeCheckpoint, type GroupFormat } from '../../weights/quantize.ts';

/** A .safetensors file, a .safetensors.index.json with its shards, or a folder holding model.safetensors[.index.json]. */
async function openTextEncoder(path: string): Promise<Checkpoint> {
  if ((await stat(path)).isDirectory()) return openCheckpoint(directoryFolder(path), 'model');
  const index = /^(.*)\.safetensors\.index\.json$/.exec(basename(path));
  if (index) return openCheckpoint(directoryFolder(dirname(path)), index[1]);
  return openCheckpointFile(await fileSource(path));
}

const quantize: Command = {
  summary:
    "Quantize a text encoder's Linear weights to webdit's int8 or int4 format (group-wise symmetric, f16 scales), " +
    'streamed tensor by tensor into one safetensors file; embeddings, norms and biases are copied as they are.',
  usage: `webdit quantize --text-encoder PATH --format int8|int4 --out FILE [--group-size ${DEFAULT_GROUP_SIZE}] [--json]`,
  async run(options) {
    const input = options.requiredString('text-encoder');
    const format = options.requiredString('format');
    const out = options.requiredString('out');
    const groupSize = options.integer('group-size', DEFAULT_GROUP_SIZE)!;
    const json = options.flag('json');
    options.finish();
    if (format !== 'int8' && format !== 'int4') throw new UsageError(`quantize: --format must be int8 or int4, got "${format}"`);
    const checkpoint = await openTextEncoder(input);
    // Written beside the target and renamed when complete, so a failed run leaves no file that looks whole.
    const partial = `${out}.partial`;
    const handle = await open(partial, 'w');
    let report;
    try {
      report = await quantizeCheckpoint(
        checkpoint,
        {
          async write(bytes, position) {
            let done = 0;
            while (done < bytes.byteLength) done += (await handle.write(bytes, done, bytes.byteLength - done, position + done)).bytesWritten;
          },
        },
        { format: format as GroupFormat, groupSize },
      );
      await handle.close();
      await rename(partial, out);
    } catch (e) {
      await handle.close().catch(() => {});
      await rm(partial, { force: true });
      throw e;
    }
    const summary = { out, format, groupSize, quantized: report.quantized.length, kept: report.kept, inputBytes: report.inputBytes, outputBytes: report.outputBytes };
    if (json) console.log(JSON.stringify(summary, null, 2));
    else {
      console.log(`${out}: ${report.quantized.length} Linear weights to ${format} (groups of ${groupSize}), ${report.inputBytes} → ${report.outputBytes} bytes`);
      for (const k of report.kept) console.log(`  kept ${k.name}: ${k.reason}`);
    }
  },
};
export default quantize;
