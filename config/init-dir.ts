/**
 * `ati init [--proxy [--es256]] [--force]`, without the reference's flaws (it
 * wrote JWT settings that nothing read and replaced the secret on every run):
 *
 * - creates `manifests/`, `specs/`, `skills/` and a commented `config.toml`
 *   (only if missing: plain `init` is idempotent);
 * - `--proxy` generates JWT material — HS256: a 32-byte hex secret kept in
 *   `config.toml` `[proxy.jwt]` (the file is then 0600); ES256: a P-256 pair in
 *   `jwt-private.pem` (0600) and `jwt-public.pem` (0644) — and returns the exact
 *   environment lines the proxy reads (`ATI_JWT_SECRET=…`, or
 *   `ATI_JWT_PUBLIC_KEY=…` + `ATI_JWT_PRIVATE_KEY=…`), since the proxy takes JWT
 *   settings from the environment only;
 * - an existing secret or key is reused, never silently replaced: `--force`
 *   generates new material (every token issued before stops validating).
 *
 * `[proxy]`/`[proxy.jwt]` are written in the reference's layout; other tables
 * in an existing `config.toml` are kept.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { AtiError } from '../kernel/errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { atiPaths } from './proxy-config.js';

export interface InitOptions {
  atiDir: string;
  proxy: boolean;
  es256: boolean;
  force: boolean;
}

export interface InitResult {
  dir: string;
  /** Files and folders this run created or replaced. */
  written: string[];
  /** Existing secrets or keys that were reused. */
  kept: string[];
  /** `NAME=value` lines the operator must put in the proxy's environment. */
  env: string[];
  algorithm?: 'HS256' | 'ES256';
}

const CONFIG_TEMPLATE = `# ATI configuration
# Docs: https://github.com/Parcha-ai/ati
#
# [proxy]
# port = 8090
# bind = "127.0.0.1"
`;

/** Minimum HS256 secret the proxy accepts (config/jwt-config.ts). */
const MIN_HS256_BYTES = 32;

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AtiError(
      'ATI_ERR_IO',
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** Drops `[proxy]` and `[proxy.*]` tables (and everything up to the next other table). */
export function withoutProxyTables(toml: string): string {
  const out: string[] = [];
  let skipping = false;
  for (const line of toml.split('\n')) {
    if (/^\s*\[\[?\s*[^\]]/.test(line)) skipping = /^\s*\[\s*"?proxy"?\s*(\]|\.)/.test(line);
    if (!skipping) out.push(line);
  }
  return out.join('\n').replace(/\n*$/, '\n');
}

function proxyBlock(alg: 'HS256' | 'ES256', hexSecret?: string): string {
  const head = `[proxy]\n# proxy mode (${alg}), written by \`ati init --proxy${alg === 'ES256' ? ' --es256' : ''}\`.\n# The proxy reads JWT settings from the environment only; see the lines \`ati init\` printed.\nport = 8090\nbind = "127.0.0.1"\n\n[proxy.jwt]\n`;
  if (alg === 'HS256') {
    return `${head}algorithm = "HS256"\nsecret = "${hexSecret}"\n\n# Issue a token: ati token issue --sub agent-1 --scope "tool:* help" --secret ${hexSecret}\n`;
  }
  return `${head}algorithm = "ES256"\nprivate_key = "jwt-private.pem"\npublic_key = "jwt-public.pem"\n\n# Issue a token: ATI_JWT_PRIVATE_KEY=… ATI_JWT_PUBLIC_KEY=… ati token issue --sub agent-1 --scope "tool:* help"\n`;
}

interface ExistingJwt {
  algorithm?: string;
  secret?: string;
}

function existingJwt(toml: string | undefined, file: string, force: boolean): ExistingJwt | undefined {
  if (toml === undefined) return undefined;
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(toml) as Record<string, unknown>;
  } catch {
    if (force) return undefined;
    throw new AtiError(
      'ATI_ERR_CONFIG',
      `${file} is not valid TOML; fix it, or pass --force to replace its [proxy] tables`,
    );
  }
  const jwt = (doc['proxy'] as Record<string, unknown> | undefined)?.['jwt'] as Record<string, unknown> | undefined;
  if (!jwt || typeof jwt !== 'object') return undefined;
  return {
    ...(typeof jwt['algorithm'] === 'string' ? { algorithm: jwt['algorithm'] } : {}),
    ...(typeof jwt['secret'] === 'string' ? { secret: jwt['secret'] } : {}),
  };
}

function checkEcPrivate(pem: string, file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new AtiError(
      'ATI_ERR_CONFIG',
      `${file} exists but is not a readable private key; remove it or pass --force to generate a new pair`,
    );
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new AtiError(
      'ATI_ERR_CONFIG',
      `${file} exists but is not a P-256 (ES256) key; remove it or pass --force to generate a new pair`,
    );
  }
  return key;
}

/** Runs `ati init`. */
export async function initAtiDir(opts: InitOptions): Promise<InitResult> {
  if (opts.es256 && !opts.proxy) throw new AtiError('ATI_ERR_USAGE', '--es256 only makes sense with --proxy');
  const dir = path.resolve(opts.atiDir);
  const paths = atiPaths(dir);
  const result: InitResult = { dir, written: [], kept: [], env: [] };
  for (const sub of [paths.manifests, paths.specs, paths.skills]) {
    const made = await mkdir(sub, { recursive: true });
    if (made !== undefined) result.written.push(`${path.basename(sub)}/`);
  }

  const current = await readIfExists(paths.config);
  if (!opts.proxy) {
    if (current === undefined) {
      await writeFileAtomic(paths.config, CONFIG_TEMPLATE, { mode: 0o644 });
      result.written.push('config.toml');
    }
    return result;
  }

  const alg = opts.es256 ? 'ES256' : 'HS256';
  result.algorithm = alg;
  const jwt = existingJwt(current, paths.config, opts.force);
  if (jwt?.algorithm && jwt.algorithm !== alg && !opts.force) {
    throw new AtiError(
      'ATI_ERR_CONFIG',
      `${paths.config} already configures ${jwt.algorithm} JWT; pass --force to switch to ${alg} (tokens issued so far will stop validating)`,
    );
  }
  const base = current === undefined ? CONFIG_TEMPLATE : withoutProxyTables(current);

  if (alg === 'HS256') {
    let secret = !opts.force && jwt?.algorithm === 'HS256' ? jwt.secret : undefined;
    if (secret !== undefined) {
      if (!/^[0-9a-fA-F]*$/.test(secret) || secret.length % 2 !== 0 || secret.length / 2 < MIN_HS256_BYTES) {
        throw new AtiError(
          'ATI_ERR_CONFIG',
          `${paths.config} holds an HS256 secret that is not ${MIN_HS256_BYTES}+ bytes of hex; pass --force to generate a new one`,
        );
      }
      result.kept.push('config.toml [proxy.jwt] secret');
    } else {
      secret = randomBytes(MIN_HS256_BYTES).toString('hex');
      // The file holds a secret now: 0600.
      await writeFileAtomic(paths.config, `${base}\n${proxyBlock('HS256', secret)}`, { mode: 0o600 });
      result.written.push('config.toml');
    }
    result.env.push(`ATI_JWT_SECRET=${secret}`);
    return result;
  }

  const privPath = path.join(dir, 'jwt-private.pem');
  const pubPath = path.join(dir, 'jwt-public.pem');
  const existingPriv = opts.force ? undefined : await readIfExists(privPath);
  if (existingPriv !== undefined) {
    const key = checkEcPrivate(existingPriv, privPath);
    result.kept.push('jwt-private.pem');
    const pub = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
    if ((await readIfExists(pubPath)) !== pub) {
      await writeFileAtomic(pubPath, pub, { mode: 0o644 });
      result.written.push('jwt-public.pem');
    }
  } else {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    await writeFileAtomic(privPath, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), {
      mode: 0o600,
    });
    await writeFileAtomic(pubPath, pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), { mode: 0o644 });
    result.written.push('jwt-private.pem', 'jwt-public.pem');
  }
  if (opts.force || jwt?.algorithm !== 'ES256') {
    await writeFileAtomic(paths.config, `${base}\n${proxyBlock('ES256')}`, { mode: 0o644 });
    result.written.push('config.toml');
  }
  result.env.push(`ATI_JWT_PUBLIC_KEY=${pubPath}`, `ATI_JWT_PRIVATE_KEY=${privPath}`);
  return result;
}
