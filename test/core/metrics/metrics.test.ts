import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startProxy, type ProxyProcess } from '../../helpers/proxy-process.js';

type Family = {
  name: string;
  type: string;
  metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string> }>;
};

async function scrape(url: string): Promise<Map<string, Family>> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/text\/plain/);
  const families = parsePrometheusTextFormat(await res.text()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

function value(f: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const fam = f.get(name);
  if (!fam) return 0;
  const m = fam.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return m?.value === undefined ? 0 : Number(m.value);
}

describe('/metrics and /readyz (real process)', () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  afterEach(async () => {
    await proxy?.stop('SIGKILL');
    proxy = undefined;
    await dir?.cleanup();
  });

  it('exposes parseable Prometheus text whose counters move', async () => {
    dir = await makeAtiDir();
    proxy = await startProxy({ atiDir: dir.dir, args: ['--no-watch'] });
    const before = await scrape(proxy.url);
    expect(value(before, 'ati_generation')).toBe(1);
    expect(value(before, 'ati_config_synchronized')).toBe(1);
    const healthBefore = value(before, 'ati_http_requests_total', { route: '/health', status: '200' });
    await fetch(`${proxy.url}/health`);
    await fetch(`${proxy.url}/health`);
    await fetch(`${proxy.url}/nope`);
    await dir.manifest('bad', '[provider]\nname = "x"\ndescription = "x"\nhandler = "nope"\n');
    proxy.proc.kill('SIGHUP');
    await proxy.waitForLog((l) => l.message === 'reload rejected');
    const after = await scrape(proxy.url);
    expect(value(after, 'ati_http_requests_total', { route: '/health', status: '200' }) - healthBefore).toBe(2);
    expect(value(after, 'ati_http_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    expect(value(after, 'ati_reload_total', { result: 'rejected', trigger: 'sighup' })).toBe(1);
    expect(value(after, 'ati_config_synchronized')).toBe(0);
    expect(after.get('ati_http_request_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(value(after, 'ati_http_in_flight_requests')).toBe(1); // the scrape itself
    // sig-verify (log mode, no secret) and auth (dev mode) outcomes are counted too
    expect(value(after, 'ati_sig_verify_total', { reason: 'missing_signature', mode: 'log' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(value(after, 'ati_auth_total', { outcome: 'dev' })).toBeGreaterThanOrEqual(1);
  });

  it('serves /readyz 200 once serving, and --metrics-bind adds a metrics-only listener', async () => {
    dir = await makeAtiDir();
    await writeFile(path.join(dir.dir, 'placeholder'), '');
    proxy = await startProxy({ atiDir: dir.dir, args: ['--no-watch', '--metrics-bind', '127.0.0.1:0'] });
    const ready = await fetch(`${proxy.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, generation: 1 });
    const line = await proxy.waitForLog((l) => l.message === 'metrics listener started');
    const murl = `http://${String(line['addr'])}`;
    const m = await fetch(`${murl}/metrics`);
    expect(m.status).toBe(200);
    expect(await m.text()).toContain('ati_generation 1');
    expect((await fetch(`${murl}/health`)).status).toBe(404);
  });
});
