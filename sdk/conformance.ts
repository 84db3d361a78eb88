/**
 * The handler-plugin conformance suite (`ati-proxy/plugin-conformance`), for
 * vitest. Every built-in plugin runs it in our CI; plugin authors run it on
 * theirs:
 *
 *   import { describeConformance } from 'ati-proxy/plugin-conformance';
 *   describeConformance({ plugin, manifest: '[provider]\n…', keyring: { token: 's3cret' }, call: { tool: 'x', args: {} } });
 *
 * It checks what the host relies on: strict schema (unknown fields rejected),
 * keyring reads only through the accessor (declared reads), `close` releasing
 * every handle, the abort signal honoured, errors carrying codes, and no
 * keyring value in any log line.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../kernel/errors.js';
import { Keyring } from '../config/keyring.js';
import { createLogger } from '../kernel/logger.js';
import { PluginRegistry, type CallContext, type PluginDefinition, type Provisioned } from '../core/plugin/contract.js';
import { parseManifests } from '../config/manifest-loader.js';
import { sha256 } from '../kernel/hash.js';
import { createUpstreamPool } from '../core/generation/upstream-pool.js';
import { pluginMetrics } from '../core/metrics/plugin-metrics.js';

export interface ConformanceOptions {
  plugin: PluginDefinition;
  /**
   * A valid manifest (TOML text) for this handler. A function is called when
   * the tests run (after `beforeAll`), for manifests naming an upstream the
   * test file starts, e.g. `manifest: () => manifestFor(upstream.url)`.
   */
  manifest: string | (() => string);
  /** Keyring entries the manifest needs (values are checked never to be logged). */
  keyring?: Record<string, string>;
  /** An ATI directory for provision (specs …); defaults to a non-existent temp path. */
  atiDir?: string;
  /** A call that must succeed (against an upstream the test started), if the plugin has tools. */
  call?: { tool: string; args: unknown };
  /** A call that must fail with an error carrying an `ATI_ERR_*` code of the error table (e.g. an unreachable upstream). */
  failingCall?: { tool: string; args: unknown };
  /** A call that takes long enough to be aborted (slow upstream). */
  slowCall?: { tool: string; args: unknown };
  /** Set when provision must not run in the suite (plugins that need special setup per test). */
  skipProvision?: boolean;
  /** Handles a plugin may legitimately leave to the runtime after close (e.g. keep-alive timers it does not own). */
  allowedHandleTypes?: string[];
}

function memoryLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination: stream as never }), lines };
}

function activeHandles(): string[] {
  const get = (process as unknown as { _getActiveHandles?: () => object[] })._getActiveHandles;
  return (get?.call(process) ?? []).map((h) => h.constructor?.name ?? 'unknown');
}

/** Registers the suite with vitest. */
export function describeConformance(opts: ConformanceOptions): void {
  const { plugin } = opts;
  const file = `/conformance/${plugin.name}.toml`;
  const registry = () => {
    const r = new PluginRegistry();
    r.register(plugin);
    return r;
  };
  const parse = (text: string) => parseManifests([{ file, text, hash: sha256(text) }], registry());
  const manifest = () => (typeof opts.manifest === 'function' ? opts.manifest() : opts.manifest);

  async function provision(keyringEntries: Record<string, string>, reads?: Map<string, string | undefined>) {
    const { logger, lines } = memoryLogger();
    const parsed = parse(manifest());
    expect(parsed.errors.map((e) => e.describe())).toEqual([]);
    const m = parsed.manifests[0]!;
    const keyring = new Keyring(Object.entries(keyringEntries), 'conformance');
    const controller = new AbortController();
    const atiDir = opts.atiDir ?? '/nonexistent-ati-dir';
    const provisioned = await registry()
      .get(plugin.name)!
      .provision(m, {
        options: { atiDir, enablePassthrough: true, checkOnly: false },
        atiDir,
        specsDir: `${atiDir}/specs`,
        keyring: keyring.accessor(reads),
        logger,
        signal: controller.signal,
        generationId: 1,
        createPool: createUpstreamPool,
        metrics: pluginMetrics(plugin.name, m.provider.name),
      });
    return { provisioned, lines, keyring, logger };
  }

  function callContext(
    p: { keyring: Keyring; logger: ReturnType<typeof createLogger> },
    signal: AbortSignal,
    name: string,
  ): CallContext {
    return {
      requestId: 'conformance',
      caller: { sub: 'conformance', scopes: ['*'], unrestricted: true },
      signal,
      logger: p.logger,
      keyring: p.keyring.accessor(),
      requestedName: name,
      endpoint: 'call',
    };
  }

  describe(`handler plugin conformance: ${plugin.name}`, () => {
    it('declares the contract version, a name and a version', () => {
      expect(typeof plugin.name).toBe('string');
      expect(typeof plugin.version).toBe('string');
      expect(plugin.apiVersion).toBeTypeOf('number');
      expect(() => registry()).not.toThrow();
    });

    it('accepts its example manifest and rejects unknown fields with a suggestion', () => {
      expect(parse(manifest()).errors).toEqual([]);
      const typo = manifest().replace(/^\[provider\]\s*$/m, '[provider]\ndescriptoin = "x"');
      const errs = parse(typo).errors.map((e) => e.message);
      expect(errs.some((m) => /unknown key "descriptoin" \(did you mean "description"\?\)/.test(m))).toBe(true);
    });

    if (opts.skipProvision) return;

    it('reads the keyring only through the accessor (declared reads decide reuse)', async () => {
      const reads = new Map<string, string | undefined>();
      const entries = { ...(opts.keyring ?? {}), conformance_unrelated_entry: 'zzz-unrelated-value-zzz' };
      const p = await provision(entries, reads);
      expect(reads.has('conformance_unrelated_entry')).toBe(false);
      for (const [name, value] of reads) expect(value).toBe(entries[name as keyof typeof entries]);
      await p.provisioned.close();
    });

    it('close() releases every handle it opened', async () => {
      const before = activeHandles();
      const p = await provision(opts.keyring ?? {});
      if (opts.call)
        await p.provisioned.call!(
          toolByName(p.provisioned, opts.call.tool),
          opts.call.args,
          callContext(p, new AbortController().signal, opts.call.tool),
        );
      await p.provisioned.close();
      await new Promise((r) => setTimeout(r, 50));
      const allowed = new Set(opts.allowedHandleTypes ?? []);
      const after = activeHandles().filter((h) => !allowed.has(h));
      const leaked = after.length - before.filter((h) => !allowed.has(h)).length;
      expect(leaked, `handles after close: ${after.join(', ')}`).toBeLessThanOrEqual(0);
    });

    if (opts.failingCall) {
      const fc = opts.failingCall;
      it('a failing call rejects with an error carrying a code of the error table', async () => {
        const p = await provision(opts.keyring ?? {});
        try {
          const err = await p.provisioned.call!(
            toolByName(p.provisioned, fc.tool),
            fc.args,
            callContext(p, new AbortController().signal, fc.tool),
          ).then(
            () => undefined,
            (e: unknown) => e,
          );
          // An AtiError, or (plugins without a runtime dependency on ati-proxy) any Error with a known `code`.
          expect(err).toBeInstanceOf(Error);
          const code = (err as { code?: unknown }).code;
          expect(Object.keys(ERRORS), `error code ${String(code)} (message: ${(err as Error).message})`).toContain(
            code,
          );
        } finally {
          await p.provisioned.close();
        }
      });
    }

    if (opts.slowCall) {
      const sc = opts.slowCall;
      it('honours the abort signal of a call', async () => {
        const p = await provision(opts.keyring ?? {});
        try {
          const controller = new AbortController();
          const pending = p.provisioned.call!(
            toolByName(p.provisioned, sc.tool),
            sc.args,
            callContext(p, controller.signal, sc.tool),
          );
          setTimeout(() => controller.abort(), 50);
          const t0 = Date.now();
          await expect(pending).rejects.toBeDefined();
          expect(Date.now() - t0).toBeLessThan(5_000);
        } finally {
          await p.provisioned.close();
        }
      });
    }

    it('never logs a keyring value', async () => {
      const p = await provision(opts.keyring ?? {});
      const calls = [opts.call, opts.failingCall].filter((c): c is { tool: string; args: unknown } => !!c);
      for (const c of calls) {
        await p.provisioned.call!(
          toolByName(p.provisioned, c.tool),
          c.args,
          callContext(p, new AbortController().signal, c.tool),
        ).catch(() => undefined);
      }
      await p.provisioned.close();
      for (const value of Object.values(opts.keyring ?? {})) {
        for (const line of p.lines) expect(line.includes(value), `log line leaks a keyring value: ${line}`).toBe(false);
      }
    });
  });
}

function toolByName(p: Provisioned, name: string) {
  const t = p.tools.find((x) => x.name === name);
  if (!t) throw new Error(`conformance: tool ${name} not provided (have: ${p.tools.map((x) => x.name).join(', ')})`);
  return t;
}
