// `npx webdit <command>`: the command-line entry (Node, WebGPU through Dawn).

import { Options, UsageError, parseArgs } from './args.ts';

export interface Command {
  summary: string;
  usage: string;
  run(options: Options): Promise<void>;
}

/** Commands by name; each module is imported only when its command runs. */
const COMMANDS: Record<string, () => Promise<Command>> = {
  info: async () => (await import('./commands/info.ts')).default,
  decode: async () => (await import('./commands/decode.ts')).default,
  'bench-kernels': async () => (await import('./commands/bench-kernels.ts')).default,
  transformer: async () => (await import('./commands/transformer.ts')).default,
  plan: async () => (await import('./commands/plan.ts')).default,
  encode: async () => (await import('./commands/encode.ts')).default,
  timesteps: async () => (await import('./commands/timesteps.ts')).default,
  tokenize: async () => (await import('./commands/tokenize.ts')).default,
  generate: async () => (await import('./commands/generate.ts')).default,
  bench: async () => (await import('./commands/bench.ts')).default,
  calibrate: async () => (await import('./commands/calibrate.ts')).default,
  'eval-toy': async () => (await import('./commands/eval-toy.ts')).default,
  quantize: async () => (await import('./commands/quantize.ts')).default,
};

function help(): string {
  return ['usage: webdit <command> [options]', '', 'commands:', ...Object.keys(COMMANDS).map((c) => `  ${c}`), '', 'webdit <command> --help for its options'].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === 'help') {
    console.log(help());
    return name ? 0 : 1;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`webdit: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  const command = await load();
  const parsed = parseArgs(rest);
  if (parsed.options.has('help')) {
    console.log(`${command.summary}\n\nusage: ${command.usage}`);
    return 0;
  }
  try {
    await command.run(new Options(parsed, name));
    return 0;
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    if (err.name === 'AbortError') {
      console.error(`webdit ${name}: interrupted; nothing was written`);
      return 130;
    }
    if (err instanceof UsageError) {
      console.error(`${err.message}\nusage: ${command.usage}`);
      return 2;
    }
    // Messages from the generate entry already say "generate: …".
    console.error(`webdit ${name}: ${err.message.startsWith(`${name}: `) ? err.message.slice(name.length + 2) : err.message}`);
    if (process.env.WEBDIT_DEBUG) console.error(err.stack);
    return 1;
  }
}
