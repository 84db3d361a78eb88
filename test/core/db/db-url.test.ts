/** `ATI_DB_URL` parsing and the reference's timestamp format (no database needed). */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDbUrl, redactDbUrl } from '../../../core/db/db-url.js';
import { toRfc3339, toUnixSeconds } from '../../../core/db/timestamps.js';
import { generateRawKey, hashRawKey, isWellFormedRawKey } from '../../../core/db/virtual-key.js';

describe('ATI_DB_URL', () => {
  it('unset, empty and whitespace-only mean disabled', () => {
    for (const v of [undefined, '', '   ', '\t\n']) expect(parseDbUrl(v)).toBeUndefined();
  });

  it('accepts postgres:// and postgresql://, labelled without the password', () => {
    expect(parseDbUrl('postgres://ati:pw@db:5432/ati')).toEqual({
      kind: 'postgres',
      url: 'postgres://ati:pw@db:5432/ati',
      label: 'postgres://[REDACTED]@db:5432/ati',
    });
    expect(parseDbUrl('postgresql://db/ati?sslmode=require')).toMatchObject({ kind: 'postgres' });
    expect(redactDbUrl('postgres://u@h/db?password=secret')).not.toContain('secret');
  });

  it('pglite:<dir> resolves against the current directory; pglite:memory is in memory', () => {
    expect(parseDbUrl('pglite:data/db', '/srv/ati')).toEqual({
      kind: 'pglite',
      dir: path.resolve('/srv/ati/data/db'),
      label: `pglite:${path.resolve('/srv/ati/data/db')}`,
    });
    expect(parseDbUrl('pglite:///var/lib/ati')).toMatchObject({ dir: '/var/lib/ati' });
    expect(parseDbUrl('pglite:memory')).toMatchObject({ kind: 'pglite', dir: null });
    expect(() => parseDbUrl('pglite:')).toThrow(/needs a directory/);
  });

  it('refuses other schemes and non-URLs with ATI_ERR_CONFIG', () => {
    expect(() => parseDbUrl('mysql://h/db')).toThrow(expect.objectContaining({ code: 'ATI_ERR_CONFIG' }));
    expect(() => parseDbUrl('not a url')).toThrow(/not a valid URL/);
  });
});

describe('timestamps', () => {
  it('prints RFC 3339 UTC with Z and 0/3/6/9 fraction digits, converting offsets', () => {
    expect(toRfc3339('2026-05-01 12:00:00+00')).toBe('2026-05-01T12:00:00Z');
    expect(toRfc3339('2026-05-01 12:00:00.5+00')).toBe('2026-05-01T12:00:00.500Z');
    expect(toRfc3339('2026-05-01 12:00:00.1234+00')).toBe('2026-05-01T12:00:00.123400Z');
    expect(toRfc3339('2026-05-01 12:00:00.123456+00')).toBe('2026-05-01T12:00:00.123456Z');
    expect(toRfc3339('2026-05-01 14:30:00.25+02:30')).toBe('2026-05-01T12:00:00.250Z');
    expect(toRfc3339('2026-05-01T12:00:00.000Z')).toBe('2026-05-01T12:00:00Z');
    expect(toRfc3339(new Date('2026-05-01T12:00:00.120Z'))).toBe('2026-05-01T12:00:00.120Z');
    expect(toRfc3339(null)).toBeNull();
    expect(toUnixSeconds('2026-05-01 12:00:00.9+00')).toBe(Date.UTC(2026, 4, 1, 12) / 1000);
  });
});

describe('raw virtual keys', () => {
  it('are ati-key_ + 22 base64url characters, hashed as lower-case sha256 hex of the whole string', () => {
    const raw = generateRawKey();
    expect(raw).toMatch(/^ati-key_[A-Za-z0-9_-]{22}$/);
    expect(isWellFormedRawKey(raw)).toBe(true);
    expect(hashRawKey('ati-key_AAAAAAAAAAAAAAAAAAAAAA')).toMatch(/^[0-9a-f]{64}$/);
    expect(hashRawKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    for (const bad of [`${raw} `, raw.slice(0, -1), raw.replace('ati-key_', 'ati_key_'), `${raw}=`])
      expect(isWellFormedRawKey(bad)).toBe(false);
  });
});
