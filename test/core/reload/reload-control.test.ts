/**
 * Reload control with a real host and real files: the provision signal is
 * aborted by a superseding reload and by shutdown, an abandoned candidate
 * never serves and what it provisioned is closed, and concurrent reload
 * requests coalesce into one more build.
 */
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { AtiError } from '../../../kernel/errors.js';
import { definePlugin, PLUGIN_API_VERSION, type HandlerPlugin } from '../../../core/plugin/contract.js';
import { defineExtension, type GenerationExtension } from '../../../core/generation/extension.js';
import { toolFromManifest } from '../../../core/tools/tool-definition.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startHost, type TestHost } from '../../helpers/host.js';
import { captureLogs, type LogCapture } from '../../helpers/log-capture.js';
import { makeTestPlugin, type TestPluginProbe } from '../../helpers/test-plugin.js';

/** What the `slow` plugin saw of one provision call. */
interface SlowProvision {
  provider: string;
  generationId: number;
  signal: AbortSignal;
}

/**
 * `handler = "slow"`: `provision` announces itself, then (with `wait = true`)
 * waits until its signal aborts and rejects with the signal's reason; with
 * `ignore_signal = true` it waits for `release()` instead, whatever the signal says.
 */
function makeSlowPlugin() {
  const started: SlowProvision[] = [];
  const closes: string[] = [];
  const startWaiters: Array<() => void> = [];
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const plugin: HandlerPlugin = definePlugin({
    apiVersion: PLUGIN_API_VERSION,
    name: 'slow',
    version: '1.0.0',
    providerSchema: {
      wait: Type.Optional(Type.Boolean()),
      ignore_signal: Type.Optional(Type.Boolean()),
    },
    async provision(m, ctx) {
      started.push({ provider: m.provider.name, generationId: ctx.generationId, signal: ctx.signal });
      for (const w of startWaiters.splice(0)) w();
      if (m.provider['ignore_signal']) await released;
      else if (m.provider['wait'] && started.filter((s) => s.provider === m.provider.name).length === 1) {
        // Only the first provision of a provider waits: the reload that supersedes it completes.
        await new Promise<void>((_resolve, reject) => {
          if (ctx.signal.aborted) reject(ctx.signal.reason as Error);
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason as Error), { once: true });
        });
      }
      return {
        tools: m.tools.map((t) => toolFromManifest(m, t)),
        async call() {
          return { value: null };
        },
        async close() {
          closes.push(`${m.provider.name}@${ctx.generationId}`);
        },
      };
    },
  });
  /** Resolves once `count` provisions have started. */
  const provisionsStarted = (count: number) =>
    new Promise<void>((resolve) => {
      const check = () => (started.length >= count ? resolve() : startWaiters.push(check));
      check();
    });
  return { plugin, started, closes, provisionsStarted, release };
}

const slowManifest = (name: string, fields: string) =>
  `[provider]\nname = "${name}"\ndescription = "d"\nhandler = "slow"\n${fields}\n\n[[tools]]\nname = "${name}_t"\ndescription = "t"\n`;
const testManifest = (name: string) =>
  `[provider]\nname = "${name}"\ndescription = "d"\nhandler = "test"\n\n[[tools]]\nname = "${name}_t"\ndescription = "t"\n`;

describe('reload control: superseding, shutdown and the provision signal', () => {
  let dir: TempAtiDir | undefined;
  let th: TestHost | undefined;
  let logs: LogCapture;
  let probe: TestPluginProbe;
  let slow: ReturnType<typeof makeSlowPlugin>;

  const start = async (closeDeadlineMs?: number, extensions?: GenerationExtension[]) => {
    dir = await makeAtiDir({ 'manifests/a.toml': testManifest('a') });
    logs = captureLogs('info');
    probe = { provisions: [], closes: [] };
    slow = makeSlowPlugin();
    th = await startHost(dir.dir, [makeTestPlugin(probe), slow.plugin], {
      logger: logs.logger,
      ...(closeDeadlineMs !== undefined ? { closeDeadlineMs } : {}),
      ...(extensions ? { extensions } : {}),
    });
    return { host: th.host, dir };
  };

  afterEach(async () => {
    slow?.release();
    await th?.close();
    th = undefined;
    await dir?.cleanup();
  });

  it('a newer reload aborts the running build; both callers get the newer result and the candidate is discarded', async () => {
    const { host, dir } = await start();
    await dir.manifest('b', testManifest('b'));
    await dir.manifest('s', slowManifest('s', 'wait = true'));
    const first = host.reload('first');
    await slow.provisionsStarted(1);
    const firstSignal = slow.started[0]!.signal;
    expect(firstSignal.aborted).toBe(false);

    const second = host.reload('second');
    expect(firstSignal.aborted).toBe(true);
    expect(firstSignal.reason).toBeInstanceOf(AtiError);
    expect((firstSignal.reason as AtiError).message).toBe('superseded by a newer reload (second)');

    const [r1, r2] = await Promise.all([first, second]);
    expect(r2).toMatchObject({ status: 'applied', generation: 3, provisioned: ['b', 's'] });
    expect(r1).toBe(r2);
    expect(host.current.id).toBe(3);
    expect([...host.current.tools.keys()].sort()).toEqual(['a_t', 'b_t', 's_t']);
    // `b` of the abandoned candidate (generation 2) was provisioned and is closed again.
    expect(probe.provisions).toEqual(['a', 'b', 'b']);
    expect(probe.closes).toEqual(['b']);
    expect(slow.started.map((s) => `${s.provider}@${s.generationId}`)).toEqual(['s@2', 's@3']);
    expect(slow.started[1]!.signal.aborted).toBe(false);
    expect(logs.find((l) => l.message === 'reload superseded by a newer one')).toMatchObject([{ trigger: 'first' }]);
    // Only the attempt that finished counts: one `reload applied`, no rejection.
    expect(logs.find((l) => l.message === 'reload applied').map((l) => l['trigger'])).toEqual(['second']);
    expect(logs.find((l) => l.message === 'reload rejected')).toEqual([]);
    expect(host.reloadStatus).toMatchObject({ generation: 3, last_result: 'applied', last_error: null });
  });

  it('a build that ignores the signal is still discarded when superseded: it never serves', async () => {
    const { host, dir } = await start();
    await dir.manifest('s', slowManifest('s', 'ignore_signal = true'));
    const first = host.reload('first');
    await slow.provisionsStarted(1);
    const second = host.reload('second');
    slow.release();
    const r = await first;
    expect(await second).toBe(r);
    expect(r).toMatchObject({ status: 'applied', generation: 3, provisioned: ['s'] });
    expect(slow.closes).toEqual(['s@2']);
    expect(host.current.providers.get('s')?.provisionedInGeneration).toBe(3);
  });

  it('a candidate superseded after provisioning (while an extension loads) is retired, not swapped in', async () => {
    // The extension of generation 2 waits for `gate`; the other generations load at once.
    let gate!: () => void;
    const gated = new Promise<void>((r) => (gate = r));
    let entered!: () => void;
    const extensionEntered = new Promise<void>((r) => (entered = r));
    const ext: GenerationExtension<number> = {
      key: defineExtension<number>('test-gate'),
      async load({ generationId }) {
        if (generationId === 2) {
          entered();
          await gated;
        }
        return generationId;
      },
    };
    const { host, dir } = await start(undefined, [ext]);
    await dir.manifest('b', testManifest('b'));
    const first = host.reload('first');
    await extensionEntered;
    const second = host.reload('second');
    gate();
    const r = await first;
    expect(await second).toBe(r);
    expect(r).toMatchObject({ status: 'applied', generation: 3, provisioned: ['b'] });
    expect(ext.key.get(host.current)).toBe(3);
    // Generation 2 was complete (b provisioned, extension loaded) but abandoned: retired, its `b` closed.
    expect(probe.provisions).toEqual(['a', 'b', 'b']);
    expect(probe.closes).toEqual(['b']);
  });

  it('reload requests made during a build coalesce into one more build', async () => {
    const { host, dir } = await start();
    await dir.manifest('s', slowManifest('s', 'wait = true'));
    const first = host.reload('first');
    await slow.provisionsStarted(1);
    const later = [host.reload('second'), host.reload('third'), host.reload('fourth', { force: true })];
    const results = await Promise.all([first, ...later]);
    expect(new Set(results).size).toBe(1);
    expect(results[0]).toMatchObject({ status: 'applied', generation: 3 });
    // One abandoned build (2) and one more (3), whatever the number of requests.
    expect(slow.started.map((s) => s.generationId)).toEqual([2, 3]);
    expect(logs.find((l) => l.message === 'reload started').map((l) => l['trigger'])).toEqual(['first', 'second']);
  });

  it('shutdown aborts a running build: the reload answers ATI_ERR_SHUTTING_DOWN and later ones build nothing', async () => {
    const { host, dir } = await start();
    await dir.manifest('b', testManifest('b'));
    await dir.manifest('s', slowManifest('s', 'wait = true'));
    const pending = host.reload('before shutdown');
    await slow.provisionsStarted(1);
    await host.shutdown('test');
    th = undefined;
    const signal = slow.started[0]!.signal;
    expect(signal.aborted).toBe(true);
    expect((signal.reason as AtiError).code).toBe('ATI_ERR_SHUTTING_DOWN');
    const r = await pending;
    expect(r.status).toBe('rejected');
    expect(r.status === 'rejected' && r.errors.map((e) => e.code)).toEqual(['ATI_ERR_SHUTTING_DOWN']);
    // The candidate's `b` was closed again; the serving generation (1) was closed by shutdown.
    expect(probe.closes.sort()).toEqual(['a', 'b']);
    expect(host.current.id).toBe(1);
    expect(logs.find((l) => l.message === 'reload abandoned: shutting down')).toHaveLength(1);

    const after = await host.reload('after shutdown');
    expect(after.status === 'rejected' && after.errors[0]!.code).toBe('ATI_ERR_SHUTTING_DOWN');
    expect(slow.started).toHaveLength(1);
  });

  it('shutdown does not wait past the close deadline for a build that ignores the signal', async () => {
    const { host, dir } = await start(200);
    await dir.manifest('s', slowManifest('s', 'ignore_signal = true'));
    const pending = host.reload('hanging');
    await slow.provisionsStarted(1);
    await host.shutdown('test');
    th = undefined;
    expect(logs.find((l) => l.message === 'abandoned reload did not wind down in time')).toMatchObject([
      { deadline_ms: 200 },
    ]);
    // Released after shutdown, the build is still discarded: nothing serves, its provider is closed.
    slow.release();
    expect(await pending).toMatchObject({ status: 'rejected' });
    expect(slow.closes).toEqual(['s@2']);
    expect(host.current.id).toBe(1);
  });
});
