import { afterEach, describe, expect, it } from 'vitest';
import { signRequest } from '../../../kernel/request-signature.js';
import { rawRequest } from '../../helpers/raw-http.js';
import { HEX_SECRET, probeManifest, startPipelineHost, type PipelineHost } from './fixtures.js';

const SECRET = Buffer.from(HEX_SECRET, 'hex');
const ATTACKS = [
  '/api/../config',
  '/api/%2e%2e/config',
  '/api/%2E%2e/config',
  '/api/%2fconfig',
  '/api//config',
  '//config',
  '/api/%00',
  '/api/..;/config',
  '/api/%5cconfig',
  '/root/../secret',
  '/root/%2e%2e/secret',
];

describe('path attacks: rejected with 400 before sig-verify, auth and any handler', () => {
  let ph: PipelineHost | undefined;
  afterEach(async () => {
    await ph?.close();
    ph = undefined;
  });

  it('in log mode, no auth: every attack is 400 ATI_ERR_BAD_PATH and no route sees it', async () => {
    ph = await startPipelineHost({
      files: {
        'manifests/api.toml': probeManifest('api', { routePrefix: '/api' }),
        'manifests/all.toml': probeManifest('all', { routePrefix: '/' }),
      },
    });
    for (const p of ATTACKS) {
      const r = await rawRequest(ph.url, p, { method: 'POST', body: '{}' });
      expect(r.status, p).toBe(400);
      expect(JSON.parse(r.body), p).toMatchObject({ code: 'ATI_ERR_BAD_PATH' });
    }
    expect(ph.hits).toHaveLength(0);
    expect(ph.logs.filter((l) => l.message === 'sig_verify')).toHaveLength(0);
    // The same routes serve canonical paths.
    expect((await rawRequest(ph.url, '/api/config')).status).toBe(200);
    expect(ph.hits.map((h) => h.path)).toEqual(['/api/config']);
  });

  it('in enforce mode, a signature over the raw attack path does not help, and a sig-exempt prefix is no way around', async () => {
    ph = await startPipelineHost({
      files: {
        'manifests/all.toml': probeManifest('all', { routePrefix: '/' }),
        credentials: JSON.stringify({ sandbox_signing_shared_secret: HEX_SECRET }),
      },
      config: { sigVerifyMode: 'enforce', env: { ATI_JWT_SECRET: HEX_SECRET } },
    });
    for (const p of ATTACKS) {
      const r = await rawRequest(ph.url, p, {
        headers: { 'X-Sandbox-Signature': signRequest(SECRET, 'GET', p.split('?')[0]!) },
      });
      expect(r.status, p).toBe(400);
    }
    expect(ph.hits).toHaveLength(0);
  });
});
