/**
 * `ati edge bootstrap-keyring` / `ati edge rotate-keyring` (docs/keyring.md): build
 * `keyring.enc` from a 1Password item (the `op` CLI) or, ours, from a JSON
 * file (`--from-json`) with the same `fields` shape. The logic is in
 * config/edge-keyring.ts; this file parses flags and prints.
 */
import { Command, Option } from 'commander';
import { AtiError } from '../../kernel/errors.js';
import { createLogger } from '../../kernel/logger.js';
import { bootstrapKeyring, rotateKeyring } from '../../config/edge-keyring.js';
import type { SecretSource } from '../../config/op-item.js';
import { resolveAtiDir } from '../../config/proxy-config.js';
import { signalService } from '../../config/service-signal.js';
import type { GlobalOptions } from '../main.js';
import { reportFatal } from '../output.js';

interface SourceFlags {
  vault?: string;
  item?: string;
  atiDir?: string;
  opPath: string;
  opTokenFile?: string;
  fromJson?: string;
}

interface RotateFlags extends SourceFlags {
  service: string;
  signal: boolean;
}

/** `--from-json FILE`, or `--vault` + `--item` for `op`; never both. */
export function sourceFromFlags(f: SourceFlags): SecretSource {
  if (f.fromJson !== undefined) {
    if (f.vault !== undefined || f.item !== undefined || f.opTokenFile !== undefined) {
      throw new AtiError('ATI_ERR_USAGE', '--from-json cannot be combined with --vault, --item or --op-token-file');
    }
    return { kind: 'json', file: f.fromJson };
  }
  if (f.vault === undefined || f.item === undefined) {
    throw new AtiError(
      'ATI_ERR_USAGE',
      'either --vault <name> and --item <name-or-uuid> (1Password), or --from-json <file>, is required',
    );
  }
  return {
    kind: 'op',
    vault: f.vault,
    item: f.item,
    opPath: f.opPath,
    ...(f.opTokenFile !== undefined ? { tokenFile: f.opTokenFile } : {}),
  };
}

function sourceOptions(cmd: Command): Command {
  return cmd
    .option('--vault <name>', '1Password vault holding the item')
    .option('--item <name-or-uuid>', '1Password item whose labeled fields become keyring entries')
    .option('--ati-dir <path>', 'ATI directory (default: $ATI_DIR, else ~/.ati)')
    .option('--op-path <path>', 'the 1Password CLI executable', 'op')
    .option('--op-token-file <path>', 'file whose content is passed to op as OP_SERVICE_ACCOUNT_TOKEN')
    .option(
      '--from-json <file>',
      'read the fields from a JSON file ({"fields":[{"label":…,"value":…}]}) instead of op',
    );
}

export function register(program: Command, globals: () => GlobalOptions): void {
  const edge = program.command('edge').description('Edge (VM) deployment helpers: build and rotate keyring.enc');

  const fail = (err: unknown): never => {
    const g = globals();
    process.exit(reportFatal(err, g.output, createLogger({ level: g.verbose ? 'debug' : 'info' })));
  };

  sourceOptions(
    edge
      .command('bootstrap-keyring')
      .description('Create keyring.enc and .keyring-key from a 1Password item (or --from-json)'),
  ).action(async (flags: SourceFlags) => {
    try {
      const source = sourceFromFlags(flags);
      const r = await bootstrapKeyring(resolveAtiDir(flags.atiDir, process.env), source);
      process.stdout.write(`wrote ${r.keyringPath} (${r.bytes} bytes) and ${r.keyPath} (session key)\n`);
    } catch (err) {
      fail(err);
    }
  });

  sourceOptions(
    edge.command('rotate-keyring').description('Re-encrypt keyring.enc with fresh values and SIGHUP the proxy'),
  )
    .addOption(new Option('--service <unit>', 'systemd unit whose MainPID receives SIGHUP').default('ati'))
    .option('--no-signal', 'do not send SIGHUP (the proxy reloads on its own file watch or next start)')
    .action(async (flags: RotateFlags) => {
      let rotated: string | undefined;
      try {
        const source = sourceFromFlags(flags);
        const r = await rotateKeyring(resolveAtiDir(flags.atiDir, process.env), source);
        rotated = r.keyringPath;
        process.stdout.write(`rotated ${r.keyringPath} (${r.bytes} bytes)\n`);
        if (!flags.signal) {
          process.stdout.write(`--no-signal set; skipping SIGHUP to ${flags.service}\n`);
          return;
        }
        const s = await signalService(flags.service);
        if (s.kind === 'sent') process.stdout.write(`SIGHUP sent to ${flags.service} (pid ${s.pid})\n`);
        else
          process.stderr.write(
            `warning: service '${flags.service}' has no active MainPID — proxy will read the new keyring on next start\n`,
          );
      } catch (err) {
        if (rotated && err instanceof AtiError) {
          // The new keyring is in place; say so, so nobody rotates twice.
          fail(new AtiError(err.code, `${rotated} was rotated, but the proxy was not signalled: ${err.message}`));
        }
        fail(err);
      }
    });
}
