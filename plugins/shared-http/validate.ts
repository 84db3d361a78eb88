/**
 * Semantic checks of the engine's provider and tool fields, run by the `http`
 * and `openapi` plugins' `validate` hooks. Every problem is returned with its
 * field path, so a manifest mistake is a load error with file and line
 * (PRODUCT §3.10) rather than a 502 on the first call.
 */
import type { PluginIssue, ProviderFields, ToolManifest } from '../../sdk/plugin.js';
import { compileTemplate, expandTemplate, jsonPathProblem, templateProblem } from '../../sdk/plugin.js';
import { authGeneratorProblems } from './auth-generator.js';
import { HTTP_INJECTION } from './auth-injection.js';
import { resolveTokenUrl, tokenUrlProblem } from './oauth2.js';
import { inputSchemaProblems } from './request-plan.js';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function baseUrlProblem(baseUrl: string): string | undefined {
  if (baseUrl.trim() === '')
    return 'is required for this handler (the upstream root URL, e.g. "https://api.example.com/v1")';
  const t = templateProblem(baseUrl);
  if (t) return t;
  // Placeholders may stand for any part; check the shape with them replaced by a harmless token.
  const probe = expandTemplate(compileTemplate(baseUrl), () => 'x');
  let u: URL;
  try {
    u = new URL(probe);
  } catch {
    return `"${baseUrl}" is not a valid URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    return `must be an http:// or https:// URL (found "${u.protocol}")`;
  if (u.hash) return 'must not contain a "#fragment"';
  return undefined;
}

/** Provider-level checks shared by http and openapi. */
export function providerProblems(p: ProviderFields): PluginIssue[] {
  const out: PluginIssue[] = [];
  const issue = (field: string, message: string) => out.push({ field: `provider.${field}`, message });
  const b = baseUrlProblem(p.base_url);
  if (b) issue('base_url', b);

  const gen = p.auth_generator;
  if (HTTP_INJECTION.secretTypes.has(p.auth_type) && !gen && !p.auth_key_name) {
    issue('auth_key_name', `is required with auth_type = "${p.auth_type}" (the keyring entry that holds the secret)`);
  }
  if (p.auth_header_name !== undefined && !HEADER_NAME.test(p.auth_header_name)) {
    issue('auth_header_name', `"${p.auth_header_name}" is not a valid header name`);
  }
  if (p.auth_type === 'oauth2') {
    if (gen) issue('auth_generator', 'cannot be combined with auth_type = "oauth2"');
    if (!p.auth_key_name)
      issue('auth_key_name', 'is required with auth_type = "oauth2" (the keyring entry that holds the client_id)');
    if (!p.auth_secret_name)
      issue(
        'auth_secret_name',
        'is required with auth_type = "oauth2" (the keyring entry that holds the client_secret)',
      );
    if (!p.oauth2_token_url) issue('oauth2_token_url', 'is required with auth_type = "oauth2"');
    else if (!b) {
      const why = tokenUrlProblem(resolveTokenUrl(p.oauth2_token_url, p.base_url));
      if (why) issue('oauth2_token_url', why);
    }
  }
  for (const [k, v] of Object.entries(p.extra_headers ?? {})) {
    if (!HEADER_NAME.test(k)) issue(`extra_headers.${k}`, `"${k}" is not a valid header name`);
    const t = templateProblem(v);
    if (t) issue(`extra_headers.${k}`, t);
  }
  if (gen) for (const [field, message] of authGeneratorProblems(gen)) issue(`auth_generator.${field}`, message);
  return out;
}

/** Checks of one tool's engine-relevant fields (`prefix` is e.g. `tools[2]`). */
export function toolProblems(t: Pick<ToolManifest, 'input_schema' | 'response'>, prefix: string): PluginIssue[] {
  const out: PluginIssue[] = [];
  const extract = t.response?.extract;
  if (extract !== undefined) {
    const why = jsonPathProblem(extract);
    if (why) out.push({ field: `${prefix}.response.extract`, message: `invalid JSONPath "${extract}": ${why}` });
  }
  for (const [field, message] of inputSchemaProblems(t.input_schema)) {
    out.push({ field: `${prefix}.input_schema.${field}`, message });
  }
  return out;
}
