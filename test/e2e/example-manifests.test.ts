/**
 * The repo's example manifests (`npm start` loads them with `--ati-dir .`) load
 * with no keyring and no network, through the real `bin/ati` (needs a fresh
 * `npx tsc` build, like every e2e test).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { REPO_ROOT, runAti, startProxy, type ProxyProcess } from '../helpers/proxy-process.js';

describe('example manifests', () => {
  let proxy: ProxyProcess | undefined;
  afterEach(async () => {
    await proxy?.stop('SIGKILL');
    proxy = undefined;
  });

  it('pass `ati proxy --check --ati-dir .`', async () => {
    const r = await runAti(['--output', 'json', 'proxy', '--check', '--ati-dir', REPO_ROOT]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('serve the http and openapi example tools; a bad argument is refused before any network use', async () => {
    proxy = await startProxy({ atiDir: REPO_ROOT, args: ['--no-watch'] });
    const tools = (await (await fetch(`${proxy.url}/tools`)).json()) as Array<{ name: string; method: string }>;
    const names = tools.map((t) => t.name);
    for (const n of [
      'httpbin_get',
      'httpbin_status',
      'httpbin_post_form',
      'petstore:getPetById',
      'petstore:addPet',
      'petstore:findPetsByStatus',
    ]) {
      expect(names).toContain(n);
    }
    expect(names).not.toContain('petstore:getUserByName');
    const one = (await (await fetch(`${proxy.url}/tools/petstore:findPetsByStatus`)).json()) as Record<string, unknown>;
    expect(one).toMatchObject({
      method: 'GET',
      hint: 'status is one of available, pending, sold',
      tags: ['pet', 'search'],
    });
    // A bad argument is refused before any network use.
    const bad = await fetch(`${proxy.url}/call`, {
      method: 'POST',
      body: JSON.stringify({ tool_name: 'petstore:getPetById', args: { petId: '../x' } }),
    });
    expect(bad.status).toBe(400);
    const line = await proxy.waitForLog((l) => l.message === 'tool call');
    expect(line).toMatchObject({ tool: 'petstore:getPetById', status: 400, args: ['petId'] });
  });
});
