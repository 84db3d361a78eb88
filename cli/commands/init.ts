/**
 * `ati init [--proxy [--es256]] [--force]`: set up an ATI directory. Progress
 * goes to stderr as log lines; stdout carries only the `NAME=value`
 * environment lines the proxy needs (so `ati init --proxy > ati.env` yields a
 * systemd EnvironmentFile). Logic: config/init-dir.ts.
 */
import type { Command } from 'commander';
import { createLogger } from '../../kernel/logger.js';
import { initAtiDir } from '../../config/init-dir.js';
import { resolveAtiDir } from '../../config/proxy-config.js';
import type { GlobalOptions } from '../main.js';
import { reportFatal } from '../output.js';

interface InitFlags {
  proxy: boolean;
  es256: boolean;
  force: boolean;
  atiDir?: string;
}

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('init')
    .description(
      'Initialize the ATI directory (manifests/, specs/, skills/, config.toml); --proxy also creates JWT keys',
    )
    .option('--proxy', 'generate JWT material for proxy mode (HS256 secret by default)', false)
    .option('--es256', 'with --proxy: generate an ES256 key pair (jwt-private.pem, jwt-public.pem) instead', false)
    .option('--force', 'replace an existing JWT secret or key pair (tokens issued so far stop validating)', false)
    .option('--ati-dir <path>', 'ATI directory (default: $ATI_DIR, else ~/.ati)')
    .action(async (flags: InitFlags) => {
      const g = globals();
      const logger = createLogger({ level: g.verbose ? 'debug' : 'info' });
      try {
        const r = await initAtiDir({
          atiDir: resolveAtiDir(flags.atiDir, process.env),
          proxy: flags.proxy,
          es256: flags.es256,
          force: flags.force,
        });
        logger.info(
          { dir: r.dir, written: r.written, kept: r.kept, ...(r.algorithm ? { algorithm: r.algorithm } : {}) },
          'initialized ATI directory',
        );
        if (r.kept.length > 0)
          logger.info({ kept: r.kept }, 'kept the existing JWT material (pass --force to generate new)');
        if (r.env.length > 0) {
          logger.info('set these environment variables for `ati proxy` (printed on stdout)');
          process.stdout.write(`${r.env.join('\n')}\n`);
        } else {
          logger.info('next steps: `ati key set <name> <value>` to add an API key; put manifests in manifests/');
        }
      } catch (err) {
        process.exit(reportFatal(err, g.output, logger));
      }
    });
}
