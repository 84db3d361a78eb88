/**
 * Keyring load cascade (ref-03 §2.6): `--env-keys` → `keyring.enc` → `credentials`
 * → empty. This first version handles `--env-keys` and the plaintext
 * `credentials` file; `keyring.enc` lands with the credentials issue.
 */
import { readFile } from 'node:fs/promises';
import { AtiError } from '../core/errors.js';
import { Keyring } from '../core/keyring.js';
import { atiPaths, type ProxyConfig } from './proxy-config.js';

/** `ATI_KEY_<NAME>` (non-empty) → entry `<name>` lower-cased; `ATI_KEY_FILE` is not a key (ref-03 §2.5). */
export function keyringFromEnv(env: NodeJS.ProcessEnv): Keyring {
  const entries: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('ATI_KEY_') || k === 'ATI_KEY_FILE' || !v) continue;
    entries.push([k.slice('ATI_KEY_'.length).toLowerCase(), v]);
  }
  return new Keyring(entries, 'env-vars (ATI_KEY_*)');
}

export async function loadKeyring(cfg: Pick<ProxyConfig, 'atiDir' | 'envKeys' | 'env'>): Promise<Keyring> {
  if (cfg.envKeys) return keyringFromEnv(cfg.env);
  const paths = atiPaths(cfg.atiDir);
  let text: string;
  try {
    text = await readFile(paths.credentials, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return Keyring.empty();
    throw new AtiError('ATI_ERR_KEYRING', `credentials file at ${paths.credentials} could not be read: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new AtiError('ATI_ERR_KEYRING', `credentials file at ${paths.credentials} present but could not be parsed: ${(err as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new AtiError('ATI_ERR_KEYRING', `credentials file at ${paths.credentials} must be a JSON object of strings`);
  }
  const entries: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(parsed)) {
    if (typeof v !== 'string') {
      throw new AtiError('ATI_ERR_KEYRING', `credentials file at ${paths.credentials}: entry '${k}' must be a string`);
    }
    entries.push([k, v]);
  }
  return new Keyring(entries, 'credentials (plaintext)');
}
