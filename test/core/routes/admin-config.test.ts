import { afterEach, describe, expect, it } from 'vitest';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startProxy, type ProxyProcess } from '../../helpers/proxy-process.js';

const TOKEN = 'admin-token-'.padEnd(40, 'x');
const SECRETS = {
  api_key: 'config-dump-api-key-123456',
  sandbox_signing_shared_secret: 'config-dump-signing-secret-9876',
  lit: 'literal-header-secret-5555',
};

describe('GET /admin/config (real process)', () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  afterEach(async () => {
    await proxy?.stop();
    await dir?.cleanup();
  });

  it('shows the serving generation with every secret redacted, behind the admin token', async () => {
    dir = await makeAtiDir({
      'manifests/api.toml':
        '[provider]\nname = "api"\ndescription = "pt"\nhandler = "passthrough"\nbase_url = "http://127.0.0.1:9"\npath_prefix = "/api"\nauth_type = "bearer"\nauth_key_name = "api_key"\n\n[provider.extra_headers]\nX-Lit = "literal-header-secret-5555"\nX-Ref = "${api_key}"\n',
      'manifests/h.toml':
        '[provider]\nname = "h"\ndescription = "http"\nbase_url = "http://user:pw-in-url@127.0.0.1:9"\n\n[[tools]]\nname = "h_get"\ndescription = "get"\n',
      credentials: JSON.stringify(SECRETS),
    });
    proxy = await startProxy({
      atiDir: dir.dir,
      args: ['--enable-passthrough', '--no-watch'],
      env: { ATI_ADMIN_TOKEN: TOKEN },
    });
    expect((await fetch(`${proxy.url}/admin/config`)).status).toBe(401);
    const res = await fetch(`${proxy.url}/admin/config`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const v of [...Object.values(SECRETS), 'pw-in-url', TOKEN]) expect(text).not.toContain(v);
    const body = JSON.parse(text) as {
      generation: number;
      keyring: { source: string; entries: string[] };
      providers: Array<{ name: string; handler: string; fields: Record<string, unknown>; tools: string[] }>;
      routes: Array<{ name: string; path_prefix: string }>;
      plugins: Array<{ name: string; origin: string }>;
      flags: Record<string, unknown>;
    };
    expect(body.generation).toBe(1);
    expect(body.keyring).toEqual({
      source: 'credentials (plaintext)',
      entries: ['api_key', 'lit', 'sandbox_signing_shared_secret'],
    });
    const api = body.providers.find((p) => p.name === 'api')!;
    expect(api.handler).toBe('passthrough');
    expect(api.fields['extra_headers']).toEqual({ 'X-Lit': '[REDACTED]', 'X-Ref': '${api_key}' });
    expect(String(body.providers.find((p) => p.name === 'h')!.fields['base_url'])).not.toContain('pw-in-url');
    expect(body.providers.find((p) => p.name === 'h')!.tools).toEqual(['h_get']);
    expect(body.routes).toEqual([{ name: 'api', host_match: null, path_prefix: '/api', forward_websockets: false }]);
    expect(body.plugins.map((p) => p.name)).toEqual(['cli', 'http', 'mcp', 'openapi', 'passthrough']);
    expect(body.flags).toMatchObject({ enable_passthrough: true, sig_verify_mode: 'log' });
  });
});
