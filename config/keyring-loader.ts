/**
 * The keyring load cascade (the reference's order) and its source labels:
 *
 * 1. `--env-keys` → `ATI_KEY_*` only                      `env-vars (ATI_KEY_*)`
 * 2. `<ati_dir>/keyring.enc` exists:
 *    a. sealed one-shot key (`$ATI_KEY_FILE`, `/run/ati/.key`) `keyring.enc (sealed key)`
 *    b. else the persistent `<ati_dir>/.keyring-key`        `keyring.enc (persistent key)`
 *    c. else an error naming the file and why each key failed
 * 3. `<ati_dir>/credentials` exists (with `@file:`)         `credentials (plaintext)`
 * 4. nothing: empty keyring with two warnings               `empty (no auth)`
 *
 * Unlike the reference, a keyring file that exists but cannot be read,
 * decrypted or parsed is an error (AtiError `ATI_ERR_KEYRING`), never an empty
 * keyring (docs/reference-compat.md#keyring-errors): the generation builder
 * refuses to start, and at reload keeps the serving generation (and its keyring).
 */
import { readFile, stat } from 'node:fs/promises';
import { AtiError } from '../kernel/errors.js';
import { sha256 } from '../kernel/hash.js';
import { Keyring } from './keyring.js';
import type { Logger } from '../kernel/logger.js';
import { setCandidateRedactionValues } from '../kernel/redact.js';
import { FILE_REF_PREFIX, loadCredentialsKeyring, readCredentials } from './credentials-file.js';
import { MIN_KEYRING_BYTES, openKeyringBytes, parseKeyringPlaintext } from './keyring-enc.js';
import { readPersistentKey, readSealedKey, sealedKeyPath } from './keyring-key.js';
import { atiPaths, type ProxyConfig } from './proxy-config.js';

export const KEYRING_SOURCES = {
  env: 'env-vars (ATI_KEY_*)',
  sealed: 'keyring.enc (sealed key)',
  persistent: 'keyring.enc (persistent key)',
  credentials: 'credentials (plaintext)',
  none: 'empty (no auth)',
} as const;

/**
 * `ATI_KEY_<NAME>` (non-empty) → entry `<name>` lower-cased; `ATI_KEY_FILE` is not a key (the
 * reference made it an entry named `file`).
 */
export function keyringFromEnv(env: NodeJS.ProcessEnv): Keyring {
  const entries: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('ATI_KEY_') || k === 'ATI_KEY_FILE' || !v) continue;
    entries.push([k.slice('ATI_KEY_'.length).toLowerCase(), v]);
  }
  return new Keyring(entries, KEYRING_SOURCES.env);
}

export type KeyringConfig = Pick<ProxyConfig, 'atiDir' | 'envKeys' | 'env'>;

export interface KeyringLoadOptions {
  logger?: Logger;
  /** Unlink the sealed key once opened (default true). `ati proxy --check` passes false. */
  consumeSealedKey?: boolean;
}

const GCM_FAILED = 'wrong key or corrupted file (GCM authentication failed)';

/** The keyring decrypted last from `keyring.enc`, keyed by the file's content hash. */
interface DecryptedCache {
  hash: string;
  keyring: Keyring;
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Reads a file, or `undefined` when it does not exist; other I/O errors are keyring errors naming the file. */
async function readIfExists(file: string, what: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file);
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw new AtiError(
      'ATI_ERR_KEYRING',
      `${what} ${file} exists but could not be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** True unless the file is missing; other stat errors count as present so the load reports them. */
async function fileExists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (err) {
    return !isMissing(err);
  }
}

/**
 * Loads the keyring once, following the cascade. Stateless: each call reads
 * the files again (and consumes a sealed key if one is present).
 */
export function loadKeyring(cfg: KeyringConfig, opts: KeyringLoadOptions = {}): Promise<Keyring> {
  return loadKeyringCached(cfg, opts, undefined);
}

/**
 * A loader for the generation builder. It remembers the keyring last
 * decrypted from `keyring.enc` together with the file's hash: a reload that
 * finds the same bytes reuses it instead of decrypting again. That is what
 * keeps sealed-key deployments reloadable — the one-shot key is gone after
 * startup, yet a manifest edit must not fail for want of it. Each load also
 * updates the log/response redaction set (kernel/redact.ts).
 */
export function createKeyringLoader(cfg: KeyringConfig, opts: KeyringLoadOptions = {}): () => Promise<Keyring> {
  const cache: { last?: DecryptedCache } = {};
  return async () => {
    const keyring = await loadKeyringCached(cfg, opts, cache);
    // Redact the new values from the moment they are loaded: a build that
    // fails later (bad manifest) logs its errors before any swap.
    setCandidateRedactionValues(keyring.values());
    return keyring;
  };
}

async function loadKeyringCached(
  cfg: KeyringConfig,
  opts: KeyringLoadOptions,
  cache: { last?: DecryptedCache } | undefined,
): Promise<Keyring> {
  const log = opts.logger;
  if (cfg.envKeys) {
    const k = keyringFromEnv(cfg.env);
    log?.info({ count: k.size }, 'loaded API keys from ATI_KEY_* env vars');
    return k;
  }
  const paths = atiPaths(cfg.atiDir);

  const blob = await readIfExists(paths.keyringEnc, 'keyring file');
  if (blob) {
    const hash = sha256(blob);
    if (cache?.last?.hash === hash) {
      log?.debug({ keyring: cache.last.keyring.source }, 'keyring.enc unchanged; reusing the decrypted keyring');
      return cache.last.keyring;
    }
    const keyring = await decryptWithAvailableKey(blob, paths.keyringEnc, paths.keyringKey, cfg.env, opts);
    if (cache) cache.last = { hash, keyring };
    return keyring;
  }
  if (cache) delete cache.last;

  if (await fileExists(paths.credentials)) {
    const entries = await loadCredentialsKeyring(paths.credentials);
    return new Keyring(entries, KEYRING_SOURCES.credentials);
  }

  log?.warn({ ati_dir: cfg.atiDir }, 'no keyring.enc or credentials found — running without API keys');
  log?.warn('tools requiring authentication will fail');
  return Keyring.empty(KEYRING_SOURCES.none);
}

/**
 * Sealed key first, then the persistent key; an error listing why each failed
 * when neither opens the file. A file too small to be a keyring is rejected
 * before any key is touched (so a sealed key is not consumed for nothing);
 * a file a key opened but whose plaintext is not a keyring is reported as such.
 */
async function decryptWithAvailableKey(
  blob: Buffer,
  encPath: string,
  persistentPath: string,
  env: NodeJS.ProcessEnv,
  opts: KeyringLoadOptions,
): Promise<Keyring> {
  const log = opts.logger;
  const failures: string[] = [];
  const sealedPath = sealedKeyPath(env);
  if (blob.length < MIN_KEYRING_BYTES) openKeyringBytes(blob, Buffer.alloc(0), encPath); // throws "too small"

  let sealed: Buffer | undefined;
  try {
    const r = await readSealedKey(sealedPath, { consume: opts.consumeSealedKey !== false });
    sealed = r.key;
    if (r.unlinkError)
      log?.warn({ file: sealedPath, error: r.unlinkError }, 'could not unlink the sealed key file after opening it');
  } catch (err) {
    // A missing sealed key is the normal case for persistent-key deployments.
    if (!(err instanceof AtiError && err.details?.['reason'] === 'missing')) failures.push((err as Error).message);
  }
  if (sealed) {
    let plain: Buffer | undefined;
    try {
      plain = openKeyringBytes(blob, sealed, encPath);
    } catch {
      failures.push(`sealed key ${sealedPath}: ${GCM_FAILED}`);
      log?.warn(
        { file: encPath, sealed_key: sealedPath },
        'the sealed key did not decrypt keyring.enc; trying the persistent key',
      );
    } finally {
      sealed.fill(0);
    }
    if (plain) return new Keyring(parseKeyringPlaintext(plain, encPath), KEYRING_SOURCES.sealed, true);
  }

  let persistent: Buffer | undefined;
  try {
    persistent = await readPersistentKey(persistentPath);
  } catch (err) {
    failures.push((err as Error).message);
  }
  if (persistent) {
    let plain: Buffer | undefined;
    try {
      plain = openKeyringBytes(blob, persistent, encPath);
    } catch {
      failures.push(`persistent key ${persistentPath}: ${GCM_FAILED}`);
    } finally {
      persistent.fill(0);
    }
    if (plain) return new Keyring(parseKeyringPlaintext(plain, encPath), KEYRING_SOURCES.persistent);
  }

  if (!failures.some((f) => f.startsWith('sealed'))) failures.unshift(`no sealed key at ${sealedPath}`);
  throw new AtiError(
    'ATI_ERR_KEYRING',
    `keyring.enc at ${encPath} exists but could not be decrypted (${failures.join('; ')})`,
  );
}

/**
 * The files that `@file:` entries of `credentials` point to (none when the
 * keyring comes from the environment or keyring.enc). A reload hashes them, so
 * a rotated secret file (e.g. a mounted Kubernetes secret) is noticed although
 * `credentials` itself did not change. Unreadable files list nothing: the
 * keyring load reports the problem.
 */
export async function credentialFileRefs(cfg: KeyringConfig): Promise<string[]> {
  if (cfg.envKeys) return [];
  const paths = atiPaths(cfg.atiDir);
  if (await fileExists(paths.keyringEnc)) return [];
  try {
    const entries = await readCredentials(paths.credentials);
    return [...entries.values()]
      .filter((v) => v.startsWith(FILE_REF_PREFIX))
      .map((v) => v.slice(FILE_REF_PREFIX.length).trim());
  } catch {
    return [];
  }
}
