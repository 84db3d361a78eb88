/**
 * The plaintext `<ati_dir>/credentials` file (docs/keyring.md): a flat JSON object
 * of strings, written by `ati key set|remove` as pretty JSON with keys sorted
 * (no trailing newline), mode 0600, replaced atomically.
 *
 * When it is loaded as a keyring, a value `@file:<path>` is replaced by the
 * whitespace-trimmed contents of `<path>` (the path itself trimmed; relative
 * paths are relative to the working directory, as in the reference). Any
 * unreadable target fails the whole load. `ati key` never resolves `@file:`;
 * it keeps the reference text.
 */
import { readFile } from 'node:fs/promises';
import { AtiError } from '../kernel/errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { parseStringMapJson, prettySortedJson } from './secret-json.js';

export const FILE_REF_PREFIX = '@file:';

function credentialsError(file: string, what: string): AtiError {
  return new AtiError('ATI_ERR_KEYRING', `credentials file ${file} ${what}`);
}

/**
 * Reads the credentials map as stored (no `@file:` resolution). A missing file
 * is an empty map; anything else that is wrong is an error naming the file.
 */
export async function readCredentials(file: string): Promise<Map<string, string>> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw credentialsError(file, `could not be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return parseStringMapJson(raw.toString('utf8'), (reason) =>
      credentialsError(file, `could not be parsed: ${reason}`),
    );
  } finally {
    raw.fill(0);
  }
}

/** Writes the map (pretty, sorted, mode 0600 from the first byte), creating parent directories. */
export async function writeCredentials(file: string, entries: ReadonlyMap<string, string>): Promise<void> {
  const data = Buffer.from(prettySortedJson(entries), 'utf8');
  try {
    await writeFileAtomic(file, data, { mode: 0o600, mkdirParents: true });
  } finally {
    data.fill(0);
  }
}

/**
 * Loads the credentials file as a keyring: parse, then resolve every
 * `@file:` value. Throws when the file is missing, unreadable, malformed, or
 * any referenced file cannot be read.
 */
export async function loadCredentialsKeyring(file: string): Promise<Map<string, string>> {
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    throw credentialsError(file, `could not be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let entries: Map<string, string>;
  try {
    entries = parseStringMapJson(raw.toString('utf8'), (reason) =>
      credentialsError(file, `could not be parsed: ${reason}`),
    );
  } finally {
    raw.fill(0);
  }
  for (const [name, value] of entries) {
    if (!value.startsWith(FILE_REF_PREFIX)) continue;
    const target = value.slice(FILE_REF_PREFIX.length).trim();
    let content: Buffer;
    try {
      content = await readFile(target);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw credentialsError(
        file,
        `entry '${name}' refers to ${FILE_REF_PREFIX}${target}, which could not be read (${code})`,
      );
    }
    try {
      entries.set(name, content.toString('utf8').trim());
    } finally {
      content.fill(0);
    }
  }
  return entries;
}

/** `ati key set`: inserts or replaces one entry (other entries and `@file:` references kept as written). */
export async function setCredential(file: string, name: string, value: string): Promise<void> {
  const entries = await readCredentials(file);
  entries.set(name, value);
  await writeCredentials(file, entries);
}

/** `ati key remove`: deletes one entry; an unknown name is an error and leaves the file untouched. */
export async function removeCredential(file: string, name: string): Promise<void> {
  const entries = await readCredentials(file);
  if (!entries.delete(name)) throw new AtiError('ATI_ERR_NOT_FOUND', `Key '${name}' not found.`);
  await writeCredentials(file, entries);
}
