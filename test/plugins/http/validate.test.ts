/**
 * Load-time checks of http and openapi manifests: mistakes are errors with the
 * file, the line and the field, before any call.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../../config/manifest-loader.js';
import { sha256 } from '../../../kernel/hash.js';
import { PluginRegistry } from '../../../core/plugin/contract.js';
import { httpPlugin } from '../../../plugins/http/index.js';
import { openapiPlugin } from '../../../plugins/openapi/index.js';
import { REPO_ROOT } from '../../helpers/proxy-process.js';

const REFERENCE = path.resolve(REPO_ROOT, '..', 'shared', 'reference-data', 'ati', 'manifests');

function load(text: string, file = '/m/p.toml') {
  const r = new PluginRegistry();
  r.register(httpPlugin);
  r.register(openapiPlugin);
  return parseManifests([{ file, text, hash: sha256(text) }], r);
}

const base = (provider: string, tools = '[[tools]]\nname = "t"\ndescription = "t"\n') =>
  `[provider]\nname = "p"\ndescription = "p"\nbase_url = "https://api.example.com"\n${provider}\n\n${tools}`;

function errorsOf(text: string): string[] {
  return load(text).errors.map((e) => e.describe());
}

describe('http/openapi manifest validation', () => {
  it('accepts the reference http and openapi manifests', () => {
    for (const f of ['_llm.toml', 'hackernews.toml', 'clinicaltrials.toml', 'crossref.toml', 'finnhub.toml']) {
      const r = load(readFileSync(path.join(REFERENCE, f), 'utf8'), f);
      expect(
        r.errors.map((e) => e.describe()),
        f,
      ).toEqual([]);
    }
  });

  it('requires the key name of secret-based auth types, located at the field', () => {
    for (const t of ['bearer', 'header', 'query', 'basic']) {
      const errs = errorsOf(base(`auth_type = "${t}"`));
      expect(errs, t).toHaveLength(1);
      expect(errs[0]).toMatch(
        new RegExp(`^/m/p\\.toml:\\d+: provider\\.auth_key_name: is required with auth_type = "${t}"`),
      );
    }
    expect(
      errorsOf(base('auth_type = "bearer"\n[provider.auth_generator]\ntype = "command"\ncommand = "echo"')),
    ).toEqual([]);
  });

  it('checks base_url', () => {
    expect(errorsOf(base('').replace(/^base_url = .*$/m, ''))[0]).toMatch(
      /provider\.base_url: is required for this handler/,
    );
    expect(errorsOf(base('').replace(/^base_url = .*$/m, 'base_url = "ftp://x"'))[0]).toMatch(
      /must be an http:\/\/ or https:\/\/ URL/,
    );
    expect(errorsOf(base('').replace(/^base_url = .*$/m, 'base_url = "https://x/${open"'))[0]).toMatch(/unterminated/);
    expect(errorsOf(base('').replace(/^base_url = .*$/m, 'base_url = "https://x/${tenant}/api"'))).toEqual([]);
  });

  it('checks oauth2 fields and refuses a plain-HTTP token URL except on loopback', () => {
    const errs = errorsOf(base('auth_type = "oauth2"'));
    expect(errs.map((e) => e.replace(/^\/m\/p\.toml:\d+: /, '').split(':')[0])).toEqual([
      'provider.auth_key_name',
      'provider.auth_secret_name',
      'provider.oauth2_token_url',
    ]);
    const full = 'auth_type = "oauth2"\nauth_key_name = "id"\nauth_secret_name = "s"\n';
    expect(errorsOf(base(`${full}oauth2_token_url = "http://auth.example.com/token"`))[0]).toMatch(
      /OAuth2 token URL must use HTTPS: 'http:\/\/auth\.example\.com\/token'/,
    );
    expect(errorsOf(base(`${full}oauth2_token_url = "http://127.0.0.1:9/token"`))).toEqual([]);
    expect(errorsOf(base(`${full}oauth2_token_url = "/oauth/token"`))).toEqual([]);
  });

  it('checks extra_headers, auth_generator, response.extract and x-ati-* keys', () => {
    expect(errorsOf(base('extra_headers = { "Bad Header" = "x", "X-Ok" = "${unclosed" }'))).toEqual([
      expect.stringMatching(/provider\.extra_headers\.Bad Header: "Bad Header" is not a valid header name/),
      expect.stringMatching(/provider\.extra_headers\.X-Ok: unterminated/),
    ]);
    expect(errorsOf(base('auth_type = "bearer"\n[provider.auth_generator]\ntype = "script"'))).toEqual([
      expect.stringMatching(/provider\.auth_generator\.interpreter: required when type = "script"/),
      expect.stringMatching(/provider\.auth_generator\.script: required when type = "script"/),
    ]);
    const tool = (extra: string) => base('', `[[tools]]\nname = "t"\ndescription = "t"\n${extra}`);
    expect(errorsOf(tool('[tools.response]\nextract = "$.items["'))[0]).toMatch(
      /tools\[0\]\.response\.extract: invalid JSONPath "\$\.items\[": unclosed "\["/,
    );
    expect(errorsOf(tool('[tools.input_schema.properties.a]\nx-ati-param-location = "cookies"'))[0]).toMatch(
      /tools\[0\]\.input_schema\.properties\.a\.x-ati-param-location: must be one of "path", "query", "header", "body", "cookie" \(found "cookies"\)/,
    );
  });

  it('suggests the right engine field for a typo and rejects openapi fields on http', () => {
    expect(errorsOf(base('timeout_second = 5'))[0]).toMatch(
      /unknown key "timeout_second".*did you mean "timeout_seconds"/,
    );
    expect(errorsOf(base('openapi_spec = "x.json"'))[0]).toMatch(
      /"openapi_spec" is a field of handler "openapi", not of handler "http"/,
    );
  });

  it('openapi: URL specs and bad override paths are load errors', () => {
    const o = (extra: string) =>
      `[provider]\nname = "o"\ndescription = "o"\nhandler = "openapi"\nbase_url = "https://x"\n${extra}\n`;
    expect(errorsOf(o('openapi_spec = "https://example.com/openapi.json"'))[0]).toMatch(
      /provider\.openapi_spec: URL specs must be downloaded first/,
    );
    expect(
      errorsOf(o('openapi_spec = "a.json"\n[provider.openapi_overrides.op]\nresponse_extract = "items"'))[0],
    ).toMatch(/provider\.openapi_overrides\.op\.response_extract: invalid JSONPath "items": must start with "\$"/);
    expect(errorsOf(o('openapi_spec = "a.json"\n[provider.openapi_overrides.op]\nhnit = "x"'))[0]).toMatch(/hnit/);
  });
});
