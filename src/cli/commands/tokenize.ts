// `webdit tokenize`: a prompt's umT5 input ids, as Wan2.1's tokenizer gives them to the text encoder.
import { UsageError } from '../args.ts';
import type { Command } from '../main.ts';
import { loadTokenizerFromPath } from '../model-args.ts';

const tokenize: Command = {
  summary:
    "Print a prompt's umT5 input ids as Wan2.1 computes them (cleaned, SentencePiece, EOS, at most --max-length ids). " +
    '--tokenizer is a tokenizer folder holding spiece.model, a diffusers model folder with tokenizer/, or the spiece.model file.',
  usage: 'webdit tokenize --tokenizer DIR|spiece.model --prompt TEXT [--max-length 512] [--json]',
  async run(options) {
    const path = options.requiredString('tokenizer');
    const prompt = options.requiredString('prompt');
    const maxLength = options.integer('max-length', 512)!;
    if (maxLength < 1) throw new UsageError(`tokenize: --max-length must be at least 1, got ${maxLength}`);
    const json = options.flag('json');
    options.finish();
    const tokenizer = await loadTokenizerFromPath(path, maxLength);
    const ids = tokenizer.encode(prompt);
    if (json) console.log(JSON.stringify({ input_ids: ids }));
    else console.log(`${ids.length} ids (EOS ${tokenizer.eosId} last): ${ids.join(' ')}`);
  },
};
export default tokenize;
