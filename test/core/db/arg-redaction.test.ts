/** The call log's argument redaction and truncation (core/db/arg-redaction.ts). */
import { describe, expect, it } from 'vitest';
import {
  isSecretName,
  redactArgs,
  truncateChars,
  TRUNCATED_SUFFIX,
  DEFAULT_LIMITS,
} from '../../../core/db/arg-redaction.js';
import { REDACTED } from '../../../kernel/redact.js';

describe('call-log argument redaction', () => {
  it('recognises secret names by word, not by substring', () => {
    for (const n of [
      'password',
      'api_key',
      'apiKey',
      'X-Api-Key',
      'accessToken',
      'client_secret',
      'Authorization',
      'auth',
      'db.password',
      'PRIVATE_KEY',
      'apikey',
      'session_token',
      'cookie',
    ]) {
      expect(isSecretName(n), n).toBe(true);
    }
    for (const n of ['keyword', 'author', 'monkey', 'max_tokens', 'query', 'keyboard', 'authorId', 'passage']) {
      expect(isSecretName(n), n).toBe(false);
    }
  });

  it('redacts at every depth, in arrays of objects, and keeps the rest', () => {
    const out = redactArgs({
      query: 'weather',
      keyword: 'k',
      nested: { deeper: { apiKey: 'sk-live', note: 'ok' }, list: [{ password: 'p', id: 1 }] },
      auth: { user: 'u', pass: 'x' },
      empty_token: '',
    });
    expect(out).toEqual({
      query: 'weather',
      keyword: 'k',
      nested: { deeper: { apiKey: REDACTED, note: 'ok' }, list: [{ password: REDACTED, id: 1 }] },
      auth: REDACTED,
      empty_token: '',
    });
  });

  it('redacts CLI-style argument arrays: flag values, --flag=value and NAME=value', () => {
    expect(
      redactArgs([
        '--api-key',
        'sk-abc',
        '--verbose',
        '--password=hunter2',
        'GITHUB_TOKEN=ghp_x',
        'plain',
        '--token',
        '--next',
      ]),
    ).toEqual([
      '--api-key',
      REDACTED,
      '--verbose',
      `--password=${REDACTED}`,
      `GITHUB_TOKEN=${REDACTED}`,
      'plain',
      '--token',
      '--next',
    ]);
  });

  it('redacts values that look like credentials whatever their field is called', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    const out = redactArgs({
      header: 'Bearer abc.def',
      text: jwt,
      note: `ati-key_${'a'.repeat(22)}`,
      gh: 'ghp_0123456789abcdefghij0123',
      fine: 'hello world',
    });
    expect(out).toEqual({ header: REDACTED, text: REDACTED, note: REDACTED, gh: REDACTED, fine: 'hello world' });
  });

  it('cuts strings on character boundaries (never inside a surrogate pair) with the reference marker', () => {
    const s = '😀'.repeat(300); // 2 UTF-16 units and 4 UTF-8 bytes each
    const cut = truncateChars(s, 200);
    expect(cut.endsWith(TRUNCATED_SUFFIX)).toBe(true);
    expect([...cut.slice(0, -TRUNCATED_SUFFIX.length)]).toHaveLength(200);
    expect(cut.slice(0, -TRUNCATED_SUFFIX.length)).toBe('😀'.repeat(200));
    expect(truncateChars('é'.repeat(200), 200)).toBe('é'.repeat(200));
    expect(redactArgs({ q: 'x'.repeat(500) })).toEqual({ q: 'x'.repeat(200) + TRUNCATED_SUFFIX });
  });

  it('removes what Postgres refuses: NUL characters and lone surrogates', () => {
    expect(redactArgs({ a: 'x\u0000y', b: 'bad\ud800' })).toEqual({ a: 'xy', b: 'bad\ufffd' });
  });

  it('bounds depth, keys, items and total work', () => {
    let deep: Record<string, unknown> = { v: 1 };
    for (let i = 0; i < 20; i++) deep = { d: deep };
    expect(JSON.stringify(redactArgs(deep))).toContain('[depth limit]');
    const wide = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
    const w = redactArgs(wide) as Record<string, unknown>;
    expect(Object.keys(w)).toHaveLength(DEFAULT_LIMITS.maxKeys + 1);
    expect(w['[truncated]']).toBe('36 more keys');
    const long = redactArgs(Array.from({ length: 100 }, (_, i) => i)) as unknown[];
    expect(long).toHaveLength(DEFAULT_LIMITS.maxItems + 1);
    expect(long.at(-1)).toBe('[36 more items]');
    const huge = Array.from({ length: 60 }, () => Array.from({ length: 60 }, () => 'x'));
    expect(JSON.stringify(redactArgs(huge)).length).toBeLessThan(30_000);
  });

  it('passes scalars through and never throws on odd input', () => {
    expect(redactArgs('plain')).toBe('plain');
    expect(redactArgs(42)).toBe(42);
    expect(redactArgs(null)).toBeNull();
    expect(redactArgs({ n: Number.NaN, b: 10n, f: () => 1 })).toEqual({ n: 'NaN', b: '10' });
  });
});
