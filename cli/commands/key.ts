/**
 * `ati key set|list|remove`: manage the plaintext `<ati_dir>/credentials`
 * keyring (docs/keyring.md). Writes are atomic and the file is 0600 from its first
 * byte. `set` reads the value from stdin when it is not given on the command
 * line (keeps it out of `ps` and shell history). `--ati-dir` is ours; the
 * default is the reference's `$ATI_DIR`, else `~/.ati`.
 */
import type { Command } from 'commander';
import { AtiError } from '../../kernel/errors.js';
import { createLogger } from '../../kernel/logger.js';
import { readCredentials, removeCredential, setCredential } from '../../config/credentials-file.js';
import { atiPaths, resolveAtiDir } from '../../config/proxy-config.js';
import { compareUtf8 } from '../../config/secret-json.js';
import { formatKeyList } from '../../config/secret-mask.js';
import type { GlobalOptions } from '../main.js';
import { reportFatal } from '../output.js';

const EMPTY_MESSAGE = 'No keys stored. Run `ati key set <name> <value>` to add one.';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  for (const c of chunks) c.fill(0);
  return text.replace(/\r?\n$/, '');
}

export function register(program: Command, globals: () => GlobalOptions): void {
  const key = program.command('key').description('Manage API keys in the plaintext credentials file');

  const run = (fn: () => Promise<void>) => async () => {
    const g = globals();
    try {
      await fn();
    } catch (err) {
      process.exit(reportFatal(err, g.output, createLogger({ level: g.verbose ? 'debug' : 'info' })));
    }
  };
  const credentialsFile = (atiDir: string | undefined) => atiPaths(resolveAtiDir(atiDir, process.env)).credentials;

  key
    .command('set <name> [value]')
    .description('Store a key (the value is read from stdin when omitted)')
    .option('--ati-dir <path>', 'ATI directory (default: $ATI_DIR, else ~/.ati)')
    .action((name: string, value: string | undefined, opts: { atiDir?: string }) =>
      run(async () => {
        const v = value ?? (await readStdin());
        if (v.length === 0)
          throw new AtiError('ATI_ERR_USAGE', `no value given for key '${name}' (pass it as an argument or on stdin)`);
        const file = credentialsFile(opts.atiDir);
        await setCredential(file, name, v);
        createLogger({ level: globals().verbose ? 'debug' : 'info' }).info({ name, file }, 'saved key');
      })(),
    );

  key
    .command('list')
    .description('List stored keys with masked values')
    .option('--ati-dir <path>', 'ATI directory (default: $ATI_DIR, else ~/.ati)')
    .action((opts: { atiDir?: string }) =>
      run(async () => {
        const entries = await readCredentials(credentialsFile(opts.atiDir));
        const lines = formatKeyList(entries, compareUtf8);
        process.stdout.write(`${lines.length === 0 ? EMPTY_MESSAGE : lines.join('\n')}\n`);
      })(),
    );

  key
    .command('remove <name>')
    .description('Remove a stored key')
    .option('--ati-dir <path>', 'ATI directory (default: $ATI_DIR, else ~/.ati)')
    .action((name: string, opts: { atiDir?: string }) =>
      run(async () => {
        const file = credentialsFile(opts.atiDir);
        await removeCredential(file, name);
        createLogger({ level: globals().verbose ? 'debug' : 'info' }).info({ name, file }, 'removed key');
      })(),
    );
}
