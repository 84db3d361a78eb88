/** Unit tests of the shared request engine's pure pieces. */
import { describe, expect, it } from 'vitest';
import { extractJsonPath, jsonPathProblem } from '../../../core/tools/response-extract.js';
import { silentLogger } from '../../../kernel/logger.js';
import { compileTemplate, expandTemplate } from '../../../kernel/placeholders.js';
import { injectedSecretMatcher } from '../../../kernel/redact.js';
import { buildRequest, encodePathValue } from '../../../plugins/shared-http/request-builder.js';
import { compileRequestPlan } from '../../../plugins/shared-http/request-plan.js';
import { classifyResponse, isNoRecords } from '../../../plugins/shared-http/response.js';
import { isPrivateAddress, ssrfLookup, ssrfModeFromEnv } from '../../../plugins/shared-http/ssrf.js';
import { readDotPath } from '../../../plugins/shared-http/auth-generator.js';

describe('placeholders', () => {
  it('expands in a single pass and reports missing names through the resolver', () => {
    const t = compileTemplate('a-${x}-${y}');
    expect(t.keys).toEqual(['x', 'y']);
    const values: Record<string, string> = { x: '${y}', y: 'Y' };
    // A value that itself contains ${y} is not expanded again.
    expect(expandTemplate(t, (k) => values[k]!)).toBe('a-${y}-Y');
    expect(() =>
      expandTemplate(t, (k) => {
        throw new Error(`missing ${k}`);
      }),
    ).toThrow('missing x');
    expect(compileTemplate('plain').isStatic).toBe(true);
    expect(() => compileTemplate('x ${open')).toThrow(/unterminated/);
    expect(() => compileTemplate('x ${}')).toThrow(/empty/);
  });
});

describe('JSONPath (response.extract)', () => {
  const doc = { name: 'n', items: [{ id: 1 }, { id: 2 }] };
  it('gives a scalar, an array, null for no match', () => {
    expect(extractJsonPath(doc, '$.name')).toBe('n');
    expect(extractJsonPath(doc, '$.items[*].id')).toEqual([1, 2]);
    expect(extractJsonPath(doc, '$.missing')).toBeNull();
    expect(extractJsonPath(doc, '$..id')).toEqual([1, 2]);
    expect(extractJsonPath(doc, '$.items[?(@.id > 1)]')).toEqual({ id: 2 });
    expect(extractJsonPath('text', '$.a')).toBeNull();
  });
  it('rejects invalid paths', () => {
    for (const bad of ['name', '$[', '$.items[', '$.', '$..', '$.a b', '$[abc]']) {
      expect(jsonPathProblem(bad), bad).toBeDefined();
      expect(() => extractJsonPath(doc, bad), bad).toThrow(/JSONPath extraction failed: Invalid JSONPath/);
    }
    for (const good of [
      '$',
      '$.a.b',
      "$['a b']",
      '$[0]',
      '$[-1]',
      '$[0:2]',
      '$.a[*]',
      '$..x',
      '$.a[?(@.b == "c")]',
      '$["x","y"]',
    ]) {
      expect(jsonPathProblem(good), good).toBeUndefined();
    }
  });
});

describe('response classification', () => {
  it('parses 2xx JSON, keeps text as a string and empty as ""', () => {
    expect(classifyResponse(200, '{"a":1}')).toEqual({ kind: 'ok', value: { a: 1 } });
    expect(classifyResponse(201, 'hello')).toEqual({ kind: 'ok', value: 'hello' });
    expect(classifyResponse(204, '')).toEqual({ kind: 'ok', value: '' });
  });
  it('applies the "no records" rule only to 404', () => {
    expect(isNoRecords(undefined, 'No records were found for X')).toBe(true);
    expect(isNoRecords(undefined, '  no no matches found')).toBe(true);
    expect(isNoRecords('not_found', 'Not Found')).toBe(true);
    expect(isNoRecords('not_found', '')).toBe(true);
    expect(isNoRecords('invalid_route', 'not found')).toBe(false);
    expect(classifyResponse(404, '{"message":"No persons found"}')).toEqual({ kind: 'no_records' });
    expect(classifyResponse(400, '{"message":"No persons found"}')).toMatchObject({ kind: 'error', status: 400 });
  });
  it('extracts error type and message (error.message, error, message)', () => {
    expect(classifyResponse(500, '{"error":{"type":"t","message":"m"}}')).toEqual({
      kind: 'error',
      status: 500,
      message: 'm',
      type: 't',
    });
    expect(classifyResponse(500, '{"error":"e"}')).toEqual({ kind: 'error', status: 500, message: 'e' });
    expect(classifyResponse(500, '{"message":"mm","error_type":"et"}')).toEqual({
      kind: 'error',
      status: 500,
      message: 'mm',
      type: 'et',
    });
    expect(classifyResponse(502, ' gateway down ')).toEqual({ kind: 'error', status: 502, message: 'gateway down' });
  });
});

describe('request building', () => {
  it('percent-encodes path values like the reference', () => {
    expect(encodePathValue('a/b c@d')).toBe('a%2Fb%20c%40d');
    expect(encodePathValue("x!'()*~._-")).toBe('x%21%27%28%29%2A~._-');
  });
  it('merges defaults except null, [] and {}', () => {
    const plan = compileRequestPlan('GET', '/x', {
      properties: {
        a: { default: 1 },
        b: { default: null },
        c: { default: [] },
        d: { default: {} },
        e: { default: 'e' },
      },
    });
    expect(buildRequest(plan, { e: 'given' }, new Set()).query).toEqual([
      ['e', 'given'],
      ['a', '1'],
    ]);
  });
  it('replaces a header parameter case-insensitively and refuses denied names', () => {
    const plan = compileRequestPlan('GET', '/x', {
      properties: { 'X-Trace': { 'x-ati-param-location': 'header' }, Host: { 'x-ati-param-location': 'header' } },
    });
    expect(buildRequest(plan, { 'X-Trace': 'a' }, new Set(['host'])).headers).toEqual({ 'x-trace': 'a' });
    expect(() => buildRequest(plan, { Host: 'evil' }, new Set(['host']))).toThrow(
      "Header 'Host' is not allowed as a user-supplied parameter",
    );
    expect(() => buildRequest(plan, { 'X-Trace': 'a\r\nX-Evil: 1' }, new Set())).toThrow(/line break/);
  });
});

describe('redaction', () => {
  it('removes secrets in raw, percent-encoded and form-encoded forms', () => {
    const s = 'p@ss word+1';
    const text = `raw=${s} pct=${encodeURIComponent(s)} form=${new URLSearchParams({ k: s }).toString()}`;
    expect(injectedSecretMatcher([s]).redact(text)).toBe('raw=[REDACTED] pct=[REDACTED] form=k=[REDACTED]');
  });
});

describe('auth generator inject paths', () => {
  it('reads dot paths over object keys only', () => {
    expect(readDotPath({ a: { b: { c: 1 } } }, 'a.b.c')).toBe(1);
    expect(readDotPath({ a: [{ b: 1 }] }, 'a.0.b')).toBeUndefined();
    expect(readDotPath({ a: 1 }, 'x')).toBeUndefined();
  });
});

describe('SSRF classification', () => {
  it('knows private, loopback, link-local, CGNAT, unique-local and mapped addresses', () => {
    for (const ip of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
    ]) {
      expect(isPrivateAddress(ip), ip).toBe(true);
    }
    for (const ip of ['8.8.8.8', '1.1.1.1', '2001:4860:4860::8888', '172.32.0.1'])
      expect(isPrivateAddress(ip), ip).toBe(false);
    expect(ssrfModeFromEnv({ ATI_SSRF_PROTECTION: 'TRUE' })).toBe('block');
    expect(ssrfModeFromEnv({ ATI_SSRF_PROTECTION: 'warn' })).toBe('warn');
    expect(ssrfModeFromEnv({})).toBe('off');
  });
  it('the connection lookup refuses names that resolve to private addresses', async () => {
    const lookup = ssrfLookup('block', silentLogger());
    const err = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      lookup('localhost', {}, (e) => resolve(e)),
    );
    expect(err?.code).toBe('ATI_SSRF_BLOCKED');
  });
});
