/**
 * The `ati` command line. Subcommands live one per file in cli/commands/ and
 * export `register(program, ctx)`; they are discovered at startup, so adding a
 * command is a one-file change.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import { VERSION } from '../kernel/version.js';
import type { OutputFormat } from '../config/proxy-config.js';

/** Global options every command can read. */
export interface GlobalOptions {
  verbose: boolean;
  output: OutputFormat;
  /** True when `--output` (or ATI_OUTPUT) was given rather than defaulted. */
  outputExplicit: boolean;
}

export interface CommandModule {
  register(program: Command, globals: () => GlobalOptions): void;
}

export async function buildProgram(argv?: readonly string[]): Promise<Command> {
  const program = new Command('ati')
    .description('ATI: agent tools interface — credential-holding tool proxy for sandboxed AI agents')
    .version(VERSION, '-V, --version')
    .option('-v, --verbose', 'debug logging', false)
    .addOption(
      new Option('--output <format>', 'output and fatal-error format')
        .choices(['json', 'text', 'table'])
        .default('json')
        .env('ATI_OUTPUT'),
    )
    .showHelpAfterError()
    .exitOverride((err) => {
      // Usage errors exit 2 (as the reference's clap); help and version exit 0.
      process.exit(err.exitCode === 0 ? 0 : 2);
    });

  const globals = (): GlobalOptions => {
    const o = program.opts<{ verbose: boolean; output: string }>();
    const src = program.getOptionValueSource('output');
    return {
      verbose: o.verbose,
      output: o.output === 'text' || o.output === 'table' ? 'text' : 'json',
      outputExplicit: src !== 'default' && src !== undefined,
    };
  };

  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'commands');
  let files = readdirSync(dir)
    .filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith('.d.ts') && !f.endsWith('.map'))
    .sort();
  // Startup time matters (`ati proxy` under systemd, `ati run` in sandboxes): load only the
  // command being run; `ati --version` alone loads none; help and unknown commands load them all.
  const wanted = subcommandOf(argv ?? []);
  const only = files.filter((f) => f.replace(/\.(js|ts)$/, '') === wanted);
  if (only.length === 1) files = only;
  else if (argv?.length === 3 && (argv[2] === '--version' || argv[2] === '-V')) files = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as Partial<CommandModule>;
    mod.register?.(program, globals);
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = await buildProgram(argv);
  await program.parseAsync(argv);
}

/** The first positional argument after the global options (`ati --output text proxy …` → `proxy`). */
export function subcommandOf(argv: readonly string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--output') {
      i++;
      continue;
    }
    if (a.startsWith('-')) continue;
    return a;
  }
  return undefined;
}
