/**
 * A faulty plugin fails only what it touches: a throw in `call` is a 502 naming
 * the plugin (the proxy keeps serving), a `close` that never returns is
 * abandoned after the close deadline.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { startHost, type TestHost } from '../helpers/host.js';
import { captureLogs } from '../helpers/log-capture.js';
import { makeTestPlugin } from '../helpers/test-plugin.js';

const manifest = (extra: string, tool = 't_one') =>
  `[provider]\nname = "t"\ndescription = "t"\nhandler = "test"\n${extra}\n\n[[tools]]\nname = "${tool}"\ndescription = "x"\n`;

describe('faulty third-party plugins', () => {
  let dir: TempAtiDir;
  let th: TestHost | undefined;
  afterEach(async () => {
    await th?.close();
    await dir?.cleanup();
  });

  it('a throw in call() answers 502 ATI_ERR_PLUGIN naming the plugin; other requests keep working', async () => {
    dir = await makeAtiDir({ 'manifests/t.toml': manifest('throw_in_call = true') });
    th = await startHost(dir.dir, [makeTestPlugin()]);
    const r = await fetch(`${th.url}/call`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"tool_name":"t_one","args":{}}',
    });
    expect(r.status).toBe(502);
    const body = (await r.json()) as { error: string };
    expect(body.error).toContain('handler plugin "test" failed: kaboom in call');
    expect((await fetch(`${th.url}/health`)).status).toBe(200);
  });

  it('a close() that never returns is abandoned after the close deadline', async () => {
    dir = await makeAtiDir({ 'manifests/t.toml': manifest('hang_in_close = true') });
    const logs = captureLogs('debug');
    const probe = { provisions: [] as string[], closes: [] as string[] };
    th = await startHost(dir.dir, [makeTestPlugin(probe)], { logger: logs.logger, closeDeadlineMs: 200 });
    await writeFile(path.join(dir.manifests, 't.toml'), manifest('hang_in_close = true', 't_two'));
    expect((await th.host.reload('test')).status).toBe('applied');
    const warn = await logs.waitFor((l) => l.message === 'provider close timed out; abandoned', 3_000);
    expect(warn).toMatchObject({ level: 'WARN', provider: 't', deadline_ms: 200 });
    expect(probe.closes).toEqual(['t']);
    expect((await fetch(`${th.url}/tools/t_two`)).status).toBe(200);
  });
});
