/**
 * `ati proxy`: run ATI as a proxy server. Flags and defaults match the
 * reference (README.md lists them); `--check`, `--drain-seconds`, `--no-watch` and
 * `--insecure-no-auth` are ours. The command itself is in ../proxy-run.ts.
 */
import { Command, Option, InvalidArgumentError } from 'commander';
import type { GlobalOptions } from '../main.js';
import type { ProxyFlags } from '../proxy-run.js';

function parseIntFlag(name: string, min: number, max: number) {
  return (v: string): number => {
    if (!/^[+-]?\d+$/.test(v.trim())) throw new InvalidArgumentError(`${name} must be an integer`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`${name} must be between ${min} and ${max}`);
    return n;
  };
}

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('proxy')
    .description('Run ATI as a proxy server (holds keys, serves sandbox agents)')
    .addOption(
      new Option('--port <port>', 'TCP port (0 = ephemeral)').default(8090).argParser(parseIntFlag('--port', 0, 65535)),
    )
    .option('--bind <addr>', 'address to bind (IPv6 in brackets, e.g. [::])', '127.0.0.1')
    .option('--ati-dir <path>', 'ATI directory (default: $ATI_DIR, else ~/.ati)')
    .option('--env-keys', 'read the keyring from ATI_KEY_* environment variables', false)
    .option('--migrate', 'apply database migrations at startup (needs ATI_DB_URL)', false)
    .option('--enable-passthrough', 'serve passthrough routes from handler = "passthrough" manifests', false)
    .addOption(
      new Option('--sig-verify-mode <mode>', 'sandbox request-signature checking')
        .choices(['log', 'warn', 'enforce'])
        .default('log'),
    )
    .addOption(
      new Option('--sig-drift-seconds <seconds>', 'allowed clock drift of signed timestamps')
        .default(60)
        .argParser(parseIntFlag('--sig-drift-seconds', 0, Number.MAX_SAFE_INTEGER)),
    )
    .option('--sig-exempt-paths <csv>', 'comma-separated globs exempt from signature checks (replaces the defaults)')
    .option('--check', 'load, validate and provision the configuration, print a summary, and exit 0 (ok) or 1', false)
    .addOption(
      new Option('--drain-seconds <seconds>', 'how long shutdown and retired generations wait for in-flight requests')
        .default(30)
        .argParser(parseIntFlag('--drain-seconds', 0, 86_400)),
    )
    .option('--no-watch', 'do not watch the ATI directory for changes (SIGHUP and POST /admin/reload still reload)')
    .option('--insecure-no-auth', 'allow binding a non-loopback address with no authentication configured', false)
    .option(
      '--metrics-bind <host:port>',
      'also serve GET /metrics, to any client, on this address (the main port serves it to loopback only)',
    )
    .action(async (flags: ProxyFlags) => {
      const g = globals();
      // The server and everything it needs load only now: `ati --help` lists this command cheaply.
      const { runProxy } = await import('../proxy-run.js');
      const code = await runProxy(flags, g);
      if (code !== undefined) process.exit(code);
    });
}
