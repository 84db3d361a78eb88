/**
 * Manifest fields and load-time validation of passthrough routes (ref-02 §1.2–1.4, §8.27),
 * through the real manifest loader with the plugin registered.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../../config/manifest-loader.js';
import { sha256 } from '../../../kernel/hash.js';
import { PluginRegistry } from '../../../core/plugin/contract.js';
import { REPO_ROOT } from '../../helpers/proxy-process.js';
import { passthroughPlugin } from '../../../plugins/passthrough/index.js';
import { compileRouteSpec } from '../../../plugins/passthrough/route-spec.js';
import { passthroughProviderSchema } from '../../../plugins/passthrough/schema.js';
import { makeAtiDir } from '../../helpers/ati-dir.js';
import { Keyring } from '../../../config/keyring.js';
import { silentLogger } from '../../../kernel/logger.js';
import { createUpstreamPool } from '../../../core/generation/upstream-pool.js';
import type { ProvisionContext, UpstreamTimeouts } from '../../../core/plugin/contract.js';
import { startHost } from '../../helpers/host.js';
import { ptManifest } from './harness.js';

/** The reference example: shared/ beside the repo (CI, main checkout) or the workplace copy (worktrees). */
const EXAMPLE = [path.resolve(REPO_ROOT, '..', 'shared'), '/work/shared']
  .map((d) => path.join(d, 'reference-data', 'ati', 'deploy-example-manifests', 'example-passthrough.toml'))
  .find((f) => existsSync(f));

function load(text: string, file = '/m/route.toml') {
  const registry = new PluginRegistry();
  registry.register(passthroughPlugin);
  return parseManifests([{ file, text, hash: sha256(text) }], registry);
}

function errorsOf(text: string): string[] {
  return load(text).errors.map((e) => e.describe());
}

const base = (extra: string) => ptManifest('r', 'https://api.example.com', extra);

describe('passthrough manifests', () => {
  it.runIf(EXAMPLE)('loads the reference example manifest (deploy/examples/vm) and the repo example', () => {
    for (const file of [EXAMPLE!, path.join(REPO_ROOT, 'manifests', 'example-passthrough.toml')]) {
      const r = load(readFileSync(file, 'utf8'), file);
      expect(
        r.errors.map((e) => e.describe()),
        file,
      ).toEqual([]);
      const spec = compileRouteSpec(r.manifests[0]!);
      expect(spec).toMatchObject({
        pathPrefix: '/example',
        strip: true,
        origin: 'https://api.example.com',
        connectTimeoutMs: 5000,
      });
    }
  });

  it('applies the reference defaults and our split timeouts', () => {
    const spec = compileRouteSpec(load(base('path_prefix = "/x/"')).manifests[0]!);
    expect(spec).toMatchObject({
      pathPrefix: '/x',
      hostMatch: null,
      strip: true,
      forwardWebsockets: false,
      connectTimeoutMs: 5_000,
      headersTimeoutMs: 300_000,
      bodyIdleTimeoutMs: 300_000,
      keepAliveMs: 60_000,
      maxRequestBytes: 104_857_600,
      maxResponseBytes: 524_288_000,
      wsMaxMessageBytes: 67_108_864,
      wsIdleTimeoutMs: 0,
      hostHeader: 'api.example.com',
    });
    const t = compileRouteSpec(
      load(base('path_prefix = "/x"\nread_timeout_seconds = 60\nresponse_header_timeout_seconds = 10')).manifests[0]!,
    );
    expect([t.headersTimeoutMs, t.bodyIdleTimeoutMs]).toEqual([10_000, 60_000]);
  });

  it("gets its pool from the host (ctx.createPool) with the route's timeouts; idle_timeout_seconds = 0 turns keep-alive off", async () => {
    const calls: Array<[string, UpstreamTimeouts | undefined]> = [];
    const ctx: ProvisionContext = {
      options: { atiDir: '/nonexistent', enablePassthrough: true, checkOnly: false },
      atiDir: '/nonexistent',
      specsDir: '/nonexistent/specs',
      keyring: Keyring.empty().accessor(),
      logger: silentLogger(),
      signal: new AbortController().signal,
      generationId: 1,
      createPool(origin, timeouts) {
        calls.push([origin, timeouts]);
        return createUpstreamPool(origin, timeouts);
      },
    };
    for (const extra of [
      'path_prefix = "/x"',
      'path_prefix = "/x"\nidle_timeout_seconds = 0\nconnect_timeout_seconds = 2',
    ]) {
      const p = await passthroughPlugin.provision(load(base(extra)).manifests[0]!, ctx);
      await p.close();
    }
    expect(calls).toEqual([
      ['https://api.example.com', { connectMs: 5_000, headersMs: 300_000, bodyIdleMs: 300_000, keepAliveMs: 60_000 }],
      ['https://api.example.com', { connectMs: 2_000, headersMs: 300_000, bodyIdleMs: 300_000, keepAliveMs: 0 }],
    ]);
  });

  it('documents in the schema the defaults a route applies: absent is the same as set to the default', () => {
    const withDefault = Object.entries(passthroughProviderSchema).filter(([, schema]) => 'default' in schema);
    expect(withDefault.map(([k]) => k)).toEqual(
      expect.arrayContaining(['strip_prefix', 'connect_timeout_seconds', 'read_timeout_seconds', 'max_request_bytes']),
    );
    const absent = compileRouteSpec(load(base('path_prefix = "/x"')).manifests[0]!);
    for (const [field, schema] of withDefault) {
      const r = load(base(`path_prefix = "/x"\n${field} = ${JSON.stringify(schema.default)}`));
      expect(r.errors, field).toEqual([]);
      expect(compileRouteSpec(r.manifests[0]!), field).toEqual(absent);
    }
  });

  it('treats a misspelt field as an error with a hint, never as a silently open route', () => {
    const errs = errorsOf(base('path_prefix = "/x"\ndeny_path = ["/admin"]'));
    expect(errs).toHaveLength(1);
    expect(errs[0]).toMatch(/^\/m\/route\.toml:7: provider\.deny_path: unknown key "deny_path".*deny_paths/);
  });

  it('reports the reference load-time errors (ref-02 §1.3) with file and field', () => {
    const cases: Array<[string, string]> = [
      [
        ptManifest('r', ' ', 'path_prefix = "/x"'),
        'provider.base_url: passthrough provider requires non-empty base_url',
      ],
      [base(''), 'provider.path_prefix: passthrough provider requires at least one of host_match or path_prefix'],
      [base('path_prefix = "x"'), "provider.path_prefix: passthrough path_prefix must start with '/' (got: 'x')"],
      [base('host_match = "  "'), 'provider.host_match: passthrough host_match must be non-empty when set'],
      [
        ptManifest('r', 'ftp://files.example.com', 'path_prefix = "/x"\nforward_websockets = true'),
        'provider.forward_websockets: forward_websockets requires base_url to use http:// or https:// (proxy derives ws/wss automatically); got: ftp://files.example.com',
      ],
      [
        base('path_prefix = "/x"\npath_replace = ["v1", "/v2"]'),
        "provider.path_replace: passthrough path_replace source must start with '/' (got: 'v1')",
      ],
    ];
    for (const [text, expected] of cases) {
      const errs = errorsOf(text);
      expect(
        errs.some((e) => e.startsWith('/m/route.toml') && e.includes(expected)),
        `${expected}\n got: ${errs.join('\n')}`,
      ).toBe(true);
    }
  });

  it('refuses at load what the reference only found at router build or per request', () => {
    const cases: Array<[string, RegExp]> = [
      [
        base('path_prefix = "/x"\ndeny_paths = ["/ok", "/a/[z-a]"]'),
        /provider\.deny_paths\[1\]: bad deny_paths glob '\/a\/\[z-a\]'/,
      ],
      [
        base('path_prefix = "/x"\nforward_authorization_paths = ["/v1/{a,{b}}"]'),
        /provider\.forward_authorization_paths\[0\]: bad forward_authorization_paths glob/,
      ],
      [base('path_prefix = "/x"\n[provider.extra_headers]\n"Bad Name" = "v"'), /bad header name 'Bad Name'/],
      [base('path_prefix = "/x"\n[provider.extra_headers]\nHost = "evil"'), /header 'Host' is managed by the proxy/],
      [
        base('path_prefix = "/x"\nauth_type = "header"\nauth_key_name = "k"\nauth_header_name = "x y"'),
        /provider\.auth_header_name: bad header name 'x y'/,
      ],
      [
        base('path_prefix = "/x"\nauth_type = "bearer"'),
        /provider\.auth_key_name: auth_type = "bearer" needs auth_key_name/,
      ],
      [ptManifest('r', 'ftp://files.example.com', 'path_prefix = "/x"'), /base_url must use http:\/\/ or https:\/\//],
      [
        ptManifest('r', 'https://user:pw@api.example.com', 'path_prefix = "/x"'),
        /base_url must not contain credentials/,
      ],
      [ptManifest('r', 'not a url', 'path_prefix = "/x"'), /base_url is not a valid URL/],
      [base('path_prefix = "/x"\npath_replace = ["/a", "/b", "/c"]'), /path_replace must be \[from, to\]/],
      [base('path_prefix = "/a//b"'), /path_prefix must be a canonical path/],
      [base('path_prefix = "/a/../b"'), /path_prefix must be a canonical path/],
      [base('host_match = "api.example.com."'), /host_match must be a bare host name/],
      [base('host_match = " api.example.com"'), /host_match must be a bare host name/],
      [base('host_match = "api.example.com:8080"'), /host_match must be a bare host name/],
      [base('path_prefix = "/x"\nconnect_timeout_seconds = -1'), /provider\.connect_timeout_seconds: must be/],
      [base('path_prefix = "/x"\nmax_request_bytes = "big"'), /provider\.max_request_bytes: must be an integer/],
      [
        base('path_prefix = "/x"\n\n[[tools]]\nname = "t"\ndescription = "d"'),
        /passthrough providers have no \[\[tools\]\]/,
      ],
    ];
    for (const [text, expected] of cases) {
      const errs = errorsOf(text);
      expect(
        errs.some((e) => expected.test(e)),
        `${expected}\n got: ${errs.join('\n')}`,
      ).toBe(true);
    }
  });

  it('rejects two routes with the same (host, prefix) pair, naming both files', async () => {
    const dir = await makeAtiDir({
      'manifests/a.toml': ptManifest('a', 'http://127.0.0.1:1', 'path_prefix = "/same/"'),
      'manifests/b.toml': ptManifest('b', 'http://127.0.0.1:2', 'path_prefix = "/same"'),
      'manifests/c.toml': ptManifest('c', 'http://127.0.0.1:3', 'path_prefix = "/same"\nhost_match = "Other.Example"'),
    });
    try {
      const err = (await startHost(dir.dir, [passthroughPlugin]).catch((e: unknown) => e)) as { describe(): string };
      expect(err.describe()).toMatch(
        /b\.toml: duplicate passthrough route \(host any, prefix \/same\) \(also defined in .*a\.toml\)/,
      );
      expect(err.describe()).not.toMatch(/c\.toml/);
    } finally {
      await dir.cleanup();
    }
  });
});
