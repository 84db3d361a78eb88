/**
 * Where `ati edge` gets keyring entries (docs/keyring.md#the-1password-item): a 1Password item read
 * with the `op` CLI, or (ours) a JSON file in the same shape for operators
 * without 1Password. The item JSON has a `fields` array; each field may carry
 * a string `label` and a string `value`. Fields with a non-empty label and a
 * value (an empty value counts) become entries, the last duplicate wins, and
 * an item with none is an error. Error messages never quote the item.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { AtiError } from '../kernel/errors.js';
import { jsonKind, parseJsonQuietly } from './secret-json.js';

export interface OpSource {
  kind: 'op';
  vault: string;
  item: string;
  /** The `op` executable (default `op`, looked up on PATH). */
  opPath: string;
  /** A file whose trimmed content is passed as `OP_SERVICE_ACCOUNT_TOKEN` (never the path). */
  tokenFile?: string;
  /** Base environment of the child (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export interface JsonFileSource {
  kind: 'json';
  file: string;
}

export type SecretSource = OpSource | JsonFileSource;

/** `op` output larger than this is refused (an item is a few kilobytes). */
const MAX_OP_OUTPUT = 16 * 1024 * 1024;
/** ETXTBSY (the binary is still being written) is retried this many times, 10 ms apart. */
const ETXTBSY_RETRIES = 10;

function sourceError(message: string): AtiError {
  return new AtiError('ATI_ERR_SECRET_SOURCE', message);
}

/** A short name of the source for messages: `1Password item 'x' in vault 'v'` or the file. */
export function describeSource(s: SecretSource): string {
  return s.kind === 'op' ? `1Password item '${s.item}' in vault '${s.vault}'` : `${s.file}`;
}

/** Fetches and parses the entries. Buffers that held the raw item are zeroed. */
export async function fetchEntries(source: SecretSource): Promise<Map<string, string>> {
  if (source.kind === 'json') {
    let raw: Buffer;
    try {
      raw = await readFile(source.file);
    } catch (err) {
      throw sourceError(
        `failed to read --from-json '${source.file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    try {
      return parseItemFields(
        raw.toString('utf8'),
        `could not parse ${source.file}`,
        `${source.file} has no labeled fields with values`,
      );
    } finally {
      raw.fill(0);
    }
  }
  const out = await runOp(source);
  try {
    return parseItemFields(
      out.toString('utf8'),
      'could not parse `op` output as JSON',
      `1Password item '${source.item}' in vault '${source.vault}' has no labeled fields with values`,
    );
  } finally {
    out.fill(0);
  }
}

/**
 * Parses an item: `{"fields":[{"label":…,"value":…},…]}`. `parseWhat` prefixes
 * shape errors; `emptyMessage` is the error when no field survives.
 */
export function parseItemFields(text: string, parseWhat: string, emptyMessage: string): Map<string, string> {
  const fail = (reason: string) => sourceError(`${parseWhat}: ${reason}`);
  const doc = parseJsonQuietly(text, fail);
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
    throw fail(`expected an object with a "fields" array, found ${jsonKind(doc)}`);
  const fields = (doc as Record<string, unknown>)['fields'];
  if (!Array.isArray(fields))
    throw fail(
      fields === undefined ? 'missing field "fields"' : `"fields" must be an array, found ${jsonKind(fields)}`,
    );
  const out = new Map<string, string>();
  fields.forEach((f: unknown, i) => {
    if (f === null || typeof f !== 'object' || Array.isArray(f))
      throw fail(`fields[${i}] must be an object, found ${jsonKind(f)}`);
    const { label, value } = f as Record<string, unknown>;
    for (const [name, v] of [
      ['label', label],
      ['value', value],
    ] as const) {
      if (v !== undefined && v !== null && typeof v !== 'string')
        throw fail(`fields[${i}].${name} must be a string, found ${jsonKind(v)}`);
    }
    if (typeof label === 'string' && label.length > 0 && typeof value === 'string') out.set(label, value);
  });
  if (out.size === 0) throw sourceError(emptyMessage);
  return out;
}

async function readTokenFile(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw sourceError(
      `failed to read --op-token-file '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** Runs `<op> item get --vault <v> <item> --format json`; resolves with stdout. */
async function runOp(s: OpSource): Promise<Buffer> {
  const argv = ['item', 'get', '--vault', s.vault, s.item, '--format', 'json'];
  for (let attempt = 0; ; attempt++) {
    // The token file is read again on each attempt (as the reference does).
    const env = { ...(s.env ?? process.env) };
    if (s.tokenFile !== undefined) env['OP_SERVICE_ACCOUNT_TOKEN'] = await readTokenFile(s.tokenFile);
    try {
      return await spawnOnce(s.opPath, argv, env);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ETXTBSY' && attempt < ETXTBSY_RETRIES) {
        await sleep(10);
        continue;
      }
      if (err instanceof AtiError) throw err;
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      const hint =
        code === 'ENOENT' ? ' (is the 1Password CLI installed? pass --op-path, or use --from-json FILE)' : '';
      throw sourceError(`failed to spawn '${s.opPath}': ${code}${hint}`);
    }
  }
}

function spawnOnce(cmd: string, argv: string[], env: NodeJS.ProcessEnv): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    child.stdout.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_OP_OUTPUT) {
        tooBig = true;
        child.kill('SIGKILL');
        return;
      }
      out.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      if (err.reduce((n, b) => n + b.length, 0) < 64 * 1024) err.push(d);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const stdout = Buffer.concat(out);
      for (const b of out) b.fill(0);
      if (tooBig) {
        stdout.fill(0);
        reject(sourceError(`\`${cmd} item get\` printed more than ${MAX_OP_OUTPUT} bytes; refused`));
        return;
      }
      if (code !== 0) {
        stdout.fill(0);
        const status = code === null ? `signal ${signal}` : String(code);
        reject(
          sourceError(`\`${cmd} item get\` failed (exit ${status}): ${Buffer.concat(err).toString('utf8').trim()}`),
        );
        return;
      }
      resolve(stdout);
    });
  });
}
