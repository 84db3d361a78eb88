/**
 * The `ati` command line. Subcommands live one per file in cli/commands/ and
 * export `register(program, ctx)`; they are discovered at startup, so adding a
 * command is a one-file change.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import { VERSION } from '../core/version.js';
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

export async function buildProgram(): Promise<Command> {
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
  const files = readdirSync(dir)
    .filter((f) => /\.(js|ts)$/.test(f) && !f.endsWith('.d.ts') && !f.endsWith('.map'))
    .sort();
  for (const f of files) {
    const mod = (await import(pathToFileURL(path.join(dir, f)).href)) as Partial<CommandModule>;
    mod.register?.(program, globals);
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = await buildProgram();
  await program.parseAsync(argv);
}
