import { describe, expect, it } from 'vitest';
import { canonicalTarget } from '../../../core/pipeline/canonical-path.js';

const reject = (raw: string) => () => canonicalTarget(raw);

describe('canonicalTarget', () => {
  it('keeps a clean path byte-for-byte and splits off the query', () => {
    expect(canonicalTarget('/api/v1/x')).toEqual({ path: '/api/v1/x', query: '' });
    expect(canonicalTarget('/api/x?a=1&b=%2F..')).toEqual({ path: '/api/x', query: 'a=1&b=%2F..' });
    expect(canonicalTarget('/')).toEqual({ path: '/', query: '' });
    expect(canonicalTarget('/a/')).toEqual({ path: '/a/', query: '' });
    expect(canonicalTarget('/files/a.json')).toEqual({ path: '/files/a.json', query: '' });
    expect(canonicalTarget('/a/...')).toEqual({ path: '/a/...', query: '' }); // three dots: a name, not a dot segment
    expect(canonicalTarget('/a/%41b')).toEqual({ path: '/a/%41b', query: '' }); // escapes are not decoded
    expect(canonicalTarget('/a/x..y/.hidden')).toEqual({ path: '/a/x..y/.hidden', query: '' });
  });

  it('accepts absolute-form targets, dropping scheme and authority', () => {
    expect(canonicalTarget('http://example.com/api/x?q')).toEqual({ path: '/api/x', query: 'q' });
    expect(canonicalTarget('http://example.com')).toEqual({ path: '/', query: '' });
    expect(reject('http://example.com/a/../b')).toThrow(/dot segment/);
  });

  it('rejects dot segments, also percent-encoded in any case and mix, also at the end', () => {
    for (const p of [
      '/api/../config',
      '/api/./config',
      '/api/%2e%2e/config',
      '/api/%2E%2E/config',
      '/api/.%2e/x',
      '/api/%2e./x',
      '/api/..',
      '/api/%2e',
      '/..',
    ]) {
      expect(reject(p), p).toThrow(/dot segment/);
    }
  });

  it('rejects a dot segment carrying ;params (Java upstreams resolve /..;/ as /../)', () => {
    expect(reject('/api/..;/config')).toThrow(/dot segment/);
    expect(reject('/api/%2e%2e;jsessionid=1/config')).toThrow(/dot segment/);
    expect(canonicalTarget('/api/a;b/c').path).toBe('/api/a;b/c');
  });

  it('rejects encoded "/" and "\\", raw "\\", NUL and empty segments', () => {
    expect(reject('/api/%2fconfig')).toThrow(/encoded "\/"/);
    expect(reject('/api/%2Fconfig')).toThrow(/encoded "\/"/);
    expect(reject('/api/%5cconfig')).toThrow(/backslash/);
    expect(reject('/api\\config')).toThrow(/backslash/);
    expect(reject('/api/%00')).toThrow(/NUL/);
    expect(reject('/api/\0')).toThrow(/NUL/);
    expect(reject('//api')).toThrow(/empty path segment/);
    expect(reject('/api//x')).toThrow(/empty path segment/);
    expect(reject('/api//')).toThrow(/empty path segment/);
  });

  it('rejects targets that are not paths', () => {
    expect(reject('*')).toThrow(/must start with/);
    expect(reject('api/x')).toThrow(/must start with/);
    expect(reject('')).toThrow(/must start with/);
  });

  it('every rejection is ATI_ERR_BAD_PATH (400)', () => {
    try {
      canonicalTarget('/a/../b');
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ code: 'ATI_ERR_BAD_PATH', status: 400 });
    }
  });
});
