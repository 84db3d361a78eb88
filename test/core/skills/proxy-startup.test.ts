import { cp } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startProxy, type ProxyProcess } from '../../helpers/proxy-process.js';
import { REFERENCE_SKILLS } from './fixtures.js';

describe('ati proxy with local skills (real process)', () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  afterEach(async () => {
    await proxy?.stop('SIGKILL');
    proxy = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  it("loads the reference's skills, logs their count at startup, skips a stray folder with a WARN, and serves them", async () => {
    dir = await makeAtiDir({ 'skills/.git/HEAD': 'ref: refs/heads/main\n' });
    await cp(REFERENCE_SKILLS, path.join(dir.dir, 'skills'), { recursive: true });
    proxy = await startProxy({ atiDir: dir.dir });
    const line = proxy.logs.find((l) => l.message === 'ATI proxy server starting')!;
    expect(line['skills']).toBe(2);
    expect(proxy.logs.find((l) => l.message === 'skill folder skipped')).toMatchObject({
      level: 'WARN',
      skill_dir: '.git',
      reason: 'hidden folder',
    });
    expect(((await (await fetch(`${proxy.url}/health`)).json()) as { skills: number }).skills).toBe(2);
    const list = (await (await fetch(`${proxy.url}/skills`)).json()) as Array<{ name: string }>;
    expect(list.map((s) => s.name)).toEqual(['ati-tools-reference', 'google-workspace']);
    const catalog = await fetch(`${proxy.url}/skillati/catalog`);
    expect(catalog.status).toBe(503);
  });
});
