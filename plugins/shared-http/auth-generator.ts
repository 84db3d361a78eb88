/**
 * `[provider.auth_generator]` (ref-01 §2.7, §5.6): runs a command or an inline
 * script to produce a short-lived credential. Safety rules (it runs processes):
 * no shell, a clean environment (PATH, HOME, TMPDIR plus the configured `env`),
 * its own process group killed with SIGKILL on timeout, bounded stdout/stderr,
 * the script's temp file (mode 0600) always removed. stderr goes to the log,
 * cut and scrubbed, never to the client (ref-01 §16.9). Results are cached per
 * caller (`sub`) for `cache_ttl_secs`; the cache lives in the provider instance,
 * so it is per provider and dropped when the provider's manifest changes.
 * `${NAME}` placeholders in `args` and `env` use the SDK's single-pass
 * expansion (`compileTemplate`); JWT_SUB, JWT_SCOPE, TOOL_NAME and TIMESTAMP come first.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AtiError, compileTemplate, expandTemplate, injectedSecretMatcher } from '../../sdk/plugin.js';
import type { AuthGeneratorFields, KeyringAccessor, Logger, Template } from '../../sdk/plugin.js';

/** `[provider.auth_generator]` as the manifest loader validated it. */
export type AuthGeneratorConfig = AuthGeneratorFields;

export interface GeneratedCredential {
  /** The main credential, used like a keyring secret by bearer/header/query/basic auth. */
  primary: string;
  /** Extra headers from `inject` targets of type "header". */
  headers: Record<string, string>;
  /** Extra environment from `inject` targets of type "env" (used by process-based handlers). */
  env: Record<string, string>;
}

/** What the generator knows about the call (ref-01 §5.6 GenContext). */
export interface GeneratorContext {
  sub: string;
  /** The caller's scopes joined by spaces, or `*` when unrestricted. */
  scope: string;
  /** The resolved tool name (never the underscore alias, ref-01 §16.14). */
  toolName: string;
}

export const DEFAULT_GENERATOR_TIMEOUT_S = 30;
const MAX_STDOUT = 1 << 20;
const MAX_STDERR = 16 << 10;
const MAX_CACHE_ENTRIES = 10_000;
const RESERVED = new Set(['JWT_SUB', 'JWT_SCOPE', 'TOOL_NAME', 'TIMESTAMP']);

function fail(message: string): AtiError {
  return new AtiError('ATI_ERR_AUTH_GENERATOR', `auth_generator failed: ${message}`);
}

/** Problems of a generator table that the schema cannot express, as `[field, message]`. */
export function authGeneratorProblems(g: AuthGeneratorConfig): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (g.type === 'command' && !g.command) out.push(['command', 'required when type = "command"']);
  if (g.type === 'script' && !g.interpreter) out.push(['interpreter', 'required when type = "script"']);
  if (g.type === 'script' && !g.script) out.push(['script', 'required when type = "script"']);
  (g.args ?? []).forEach((a, i) => {
    try {
      compileTemplate(a);
    } catch (err) {
      out.push([`args[${i}]`, (err as Error).message]);
    }
  });
  for (const [k, v] of Object.entries(g.env ?? {})) {
    try {
      compileTemplate(v);
    } catch (err) {
      out.push([`env.${k}`, (err as Error).message]);
    }
  }
  for (const [p, t] of Object.entries(g.inject ?? {})) {
    if (t.type === 'header' && !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(t.name))
      out.push([`inject.${p}.name`, `"${t.name}" is not a valid header name`]);
  }
  if (g.inject && Object.keys(g.inject).length > 0 && g.output_format !== 'json') {
    out.push(['inject', 'needs output_format = "json"']);
  }
  return out;
}

interface CacheEntry {
  value: GeneratedCredential;
  expiresAt: number;
}

export class AuthGenerator {
  private readonly args: Template[];
  private readonly env: Array<[string, Template]>;
  private readonly ttlMs: number;
  private readonly timeoutS: number;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly pending = new Map<string, Promise<GeneratedCredential>>();

  constructor(
    private readonly cfg: AuthGeneratorConfig,
    private readonly provider: string,
    private readonly logger: Logger,
  ) {
    this.args = (cfg.args ?? []).map((a) => compileTemplate(a));
    this.env = Object.entries(cfg.env ?? {}).map(([k, v]) => [k, compileTemplate(v)]);
    this.ttlMs = (cfg.cache_ttl_secs ?? 0) * 1000;
    this.timeoutS = cfg.timeout_secs ?? DEFAULT_GENERATOR_TIMEOUT_S;
  }

  /** A credential for this call: from the per-caller cache, or by running the generator. */
  async generate(keyring: KeyringAccessor, ctx: GeneratorContext): Promise<GeneratedCredential> {
    if (this.ttlMs <= 0) return this.run(keyring, ctx);
    const hit = this.cache.get(ctx.sub);
    if (hit && hit.expiresAt > Date.now()) return hit.value;
    let p = this.pending.get(ctx.sub);
    if (!p) {
      p = this.run(keyring, ctx).then((value) => {
        this.cache.delete(ctx.sub);
        if (this.cache.size >= MAX_CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(ctx.sub, { value, expiresAt: Date.now() + this.ttlMs });
        return value;
      });
      const cleanup = () => this.pending.delete(ctx.sub);
      p.then(cleanup, cleanup);
      this.pending.set(ctx.sub, p);
    }
    return p;
  }

  private async run(keyring: KeyringAccessor, ctx: GeneratorContext): Promise<GeneratedCredential> {
    const used: string[] = [];
    const resolve = (name: string): string => {
      if (RESERVED.has(name)) {
        if (name === 'JWT_SUB') return ctx.sub;
        if (name === 'JWT_SCOPE') return ctx.scope;
        if (name === 'TOOL_NAME') return ctx.toolName;
        return String(Math.floor(Date.now() / 1000));
      }
      const v = keyring.require(name, `auth_generator of provider ${this.provider}`);
      used.push(v);
      return v;
    };
    const args = this.args.map((t) => expandTemplate(t, resolve));
    const env: NodeJS.ProcessEnv = {};
    for (const k of ['PATH', 'HOME', 'TMPDIR']) if (process.env[k] !== undefined) env[k] = process.env[k];
    for (const [k, t] of this.env) env[k] = expandTemplate(t, resolve);

    let command: string;
    let argv: string[];
    let scriptFile: string | undefined;
    if (this.cfg.type === 'script') {
      scriptFile = path.join(os.tmpdir(), `ati_gen_${randomBytes(8).toString('hex')}.tmp`);
      await writeFile(scriptFile, this.cfg.script ?? '', { mode: 0o600 });
      command = this.cfg.interpreter!;
      argv = [scriptFile, ...args];
    } else {
      command = this.cfg.command!;
      argv = args;
    }
    try {
      const { stdout } = await this.spawnBounded(command, argv, env, used);
      const value = this.parse(stdout);
      return value;
    } finally {
      if (scriptFile) await unlink(scriptFile).catch(() => undefined);
    }
  }

  private spawnBounded(
    command: string,
    argv: string[],
    env: NodeJS.ProcessEnv,
    secrets: string[],
  ): Promise<{ stdout: string }> {
    return new Promise((resolve, reject) => {
      let child;
      try {
        child = spawn(command, argv, { env, shell: false, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (err) {
        reject(fail(`Failed to spawn generator process: ${command}: ${(err as Error).message}`));
        return;
      }
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      let outLen = 0;
      let errLen = 0;
      let overflow = false;
      let timedOut = false;
      const kill = () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      };
      const timer =
        this.timeoutS > 0
          ? setTimeout(() => {
              timedOut = true;
              kill();
            }, this.timeoutS * 1000)
          : undefined;
      child.stdout.on('data', (c: Buffer) => {
        outLen += c.length;
        if (outLen > MAX_STDOUT) {
          overflow = true;
          kill();
          return;
        }
        out.push(c);
      });
      child.stderr.on('data', (c: Buffer) => {
        if (errLen < MAX_STDERR) errOut.push(c);
        errLen += c.length;
      });
      // A spawn failure emits 'error' and then 'close': report it once.
      let spawnFailed = false;
      child.on('error', (err) => {
        spawnFailed = true;
        clearTimeout(timer);
        reject(fail(`Failed to spawn generator process: ${command}: ${err.message}`));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (spawnFailed) return;
        const stderr = injectedSecretMatcher(secrets).redact(
          Buffer.concat(errOut).toString('utf8').slice(0, MAX_STDERR).trim(),
        );
        if (timedOut) return reject(fail(`Generator timed out after ${this.timeoutS}s`));
        if (overflow) return reject(fail(`Generator wrote more than ${MAX_STDOUT} bytes to stdout`));
        if (code !== 0) {
          this.logger.warn({ provider: this.provider, exit_code: code ?? -1, signal, stderr }, 'auth generator failed');
          return reject(fail(`Generator exited with code ${code ?? -1} (its stderr is in the proxy log)`));
        }
        if (stderr) this.logger.debug({ provider: this.provider, stderr }, 'auth generator stderr');
        resolve({ stdout: Buffer.concat(out).toString('utf8') });
      });
    });
  }

  private parse(stdout: string): GeneratedCredential {
    const trimmed = stdout.trim();
    const out: GeneratedCredential = { primary: '', headers: {}, env: {} };
    if (this.cfg.output_format !== 'json') {
      out.primary = trimmed;
      return out;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch (err) {
      throw fail(`Failed to parse generator output: invalid JSON: ${(err as Error).message}`);
    }
    const inject = Object.entries(this.cfg.inject ?? {});
    if (inject.length === 0) {
      const rec = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>) : {};
      const t = 'token' in rec ? rec['token'] : rec['access_token'];
      out.primary = typeof t === 'string' ? t : trimmed;
      return out;
    }
    let primary: string | undefined;
    for (const [jsonPath, target] of inject) {
      const v = readDotPath(doc, jsonPath);
      if (v === undefined) throw fail(`JSON path '${jsonPath}' not found in output`);
      const text =
        typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
      if (target.type === 'header') out.headers[target.name] = text;
      else if (target.type === 'env') out.env[target.name] = text;
      else primary ??= text;
    }
    out.primary = primary ?? trimmed;
    return out;
  }
}

/** `a.b.c` over object keys only (no array indexes), as the reference reads inject paths. */
export function readDotPath(doc: unknown, dotted: string): unknown {
  let cur: unknown = doc;
  for (const key of dotted.split('.')) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur) || !Object.hasOwn(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}
