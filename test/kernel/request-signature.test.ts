import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signingSecretsFromKeyring } from '../../core/generation/builder.js';
import { Keyring } from '../../config/keyring.js';
import {
  decodeSigningSecret,
  parseSignatureHeader,
  signRequest,
  verifySignature,
  type VerifyInput,
} from '../../kernel/request-signature.js';

const HEX = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const SECRET = Buffer.from(HEX, 'hex');
const NOW = 1_700_000_000;

function mac(secret: Buffer, message: string): string {
  return createHmac('sha256', secret).update(message).digest('hex');
}

function verify(over: Partial<VerifyInput>): string {
  return verifySignature({
    header: undefined,
    method: 'GET',
    path: '/api/x',
    secrets: [SECRET],
    nowSeconds: NOW,
    maxDriftSeconds: 60,
    ...over,
  });
}

describe('signature header parsing (ref-02 §3.2)', () => {
  it('reads t and s, tolerates extra segments and whitespace, later duplicates win', () => {
    expect(parseSignatureHeader('t=1,s=ab')).toEqual({ t: '1', s: 'ab' });
    expect(parseSignatureHeader(' t = 1 , s = ab , v=1')).toEqual({ t: '1', s: 'ab' });
    expect(parseSignatureHeader('t=1,s=ab,t=2')).toEqual({ t: '2', s: 'ab' });
    expect(parseSignatureHeader('t=1,s=a=b')).toEqual({ t: '1', s: 'a=b' });
  });

  it('a segment without "=" (trailing comma, ",,") or a missing/empty t or s is malformed', () => {
    for (const h of ['t=1,s=ab,', 't=1,,s=ab', 't=1', 's=ab', 't=,s=ab', 't=1,s=', 'garbage', ',']) {
      expect(parseSignatureHeader(h), h).toBeUndefined();
    }
  });
});

describe('signature verification (ref-02 §3.3), each reason', () => {
  const good = (t: number | string = NOW, method = 'GET', path = '/api/x') =>
    `t=${t},s=${mac(SECRET, `${t}.${method}.${path}`)}`;

  it('valid: HMAC-SHA256 over "{t}.{METHOD}.{path}"; hex of either case', () => {
    expect(verify({ header: good() })).toBe('valid');
    expect(verify({ header: good().toUpperCase().replace('T=', 't=').replace('S=', 's=') })).toBe('valid');
    expect(verify({ header: signRequest(SECRET, 'GET', '/api/x', NOW) })).toBe('valid');
  });

  it('missing_signature: absent, empty, or not visible ASCII', () => {
    expect(verify({ header: undefined })).toBe('missing_signature');
    expect(verify({ header: '' })).toBe('missing_signature');
    expect(verify({ header: `${good()}\u00e9` })).toBe('missing_signature');
    expect(verify({ header: 't=1,s=\u0001' })).toBe('missing_signature');
  });

  it('malformed_signature: unparseable header, trailing comma', () => {
    expect(verify({ header: 'nonsense' })).toBe('malformed_signature');
    expect(verify({ header: `${good()},` })).toBe('malformed_signature');
    expect(verify({ header: `t=${NOW}` })).toBe('malformed_signature');
  });

  it('invalid_timestamp: not a signed 64-bit base-10 integer', () => {
    for (const t of [
      'abc',
      '1.5',
      '0x10',
      '1e9',
      '9223372036854775808',
      '-9223372036854775809',
      '99999999999999999999999',
      ' ',
    ]) {
      expect(verify({ header: `t=${t},s=${'ab'.repeat(32)}` }), t).toBe(
        t === ' ' ? 'malformed_signature' : 'invalid_timestamp',
      );
    }
  });

  it('a "+"-prefixed and a zero-padded timestamp are accepted and signed as sent', () => {
    const t = `+${NOW}`;
    expect(verify({ header: `t=${t},s=${mac(SECRET, `${t}.GET./api/x`)}` })).toBe('valid');
    // Signed over the normalised number instead of the text as sent: mismatch.
    expect(verify({ header: `t=${t},s=${mac(SECRET, `${NOW}.GET./api/x`)}` })).toBe('hmac_mismatch');
    const z = `000${NOW}`;
    expect(verify({ header: `t=${z},s=${mac(SECRET, `${z}.GET./api/x`)}` })).toBe('valid');
  });

  it('expired_timestamp_drift=<N>s for past and future timestamps; drift equal to the max passes', () => {
    expect(verify({ header: good(NOW - 60) })).toBe('valid');
    expect(verify({ header: good(NOW + 60) })).toBe('valid');
    expect(verify({ header: good(NOW - 61) })).toBe('expired_timestamp_drift=61s');
    expect(verify({ header: good(NOW + 120) })).toBe('expired_timestamp_drift=120s');
    expect(verify({ header: good(NOW - 5), maxDriftSeconds: 0 })).toBe('expired_timestamp_drift=5s');
  });

  it('huge and negative timestamps never overflow (BigInt math)', () => {
    const max = '9223372036854775807';
    expect(verify({ header: `t=${max},s=${'ab'.repeat(32)}` })).toBe(
      `expired_timestamp_drift=${BigInt(max) - BigInt(NOW)}s`,
    );
    expect(verify({ header: `t=-1000,s=${'ab'.repeat(32)}` })).toBe(`expired_timestamp_drift=${NOW + 1000}s`);
    // |now − i64::MIN| does not fit in i64: the reference overflowed here; we call it invalid.
    expect(verify({ header: `t=-9223372036854775808,s=${'ab'.repeat(32)}` })).toBe('invalid_timestamp');
  });

  it('no_signing_secret_configured after the timestamp checks, before the signature format', () => {
    expect(verify({ header: good(), secrets: [] })).toBe('no_signing_secret_configured');
    expect(verify({ header: `t=${NOW},s=zz`, secrets: [] })).toBe('no_signing_secret_configured');
    expect(verify({ header: `t=${NOW - 100},s=zz`, secrets: [] })).toBe('expired_timestamp_drift=100s');
    expect(verify({ header: undefined, secrets: [] })).toBe('missing_signature');
  });

  it('a non-hex or odd-length s is malformed (reported after drift and secret checks)', () => {
    expect(verify({ header: `t=${NOW},s=xyz0` })).toBe('malformed_signature');
    expect(verify({ header: `t=${NOW},s=abc` })).toBe('malformed_signature');
  });

  it('hmac_mismatch: wrong length, tampered method, path, timestamp, secret', () => {
    expect(verify({ header: `t=${NOW},s=abcd` })).toBe('hmac_mismatch');
    expect(verify({ header: good(), method: 'POST' })).toBe('hmac_mismatch');
    expect(verify({ header: good(), path: '/api/y' })).toBe('hmac_mismatch');
    expect(verify({ header: good(NOW).replace(`t=${NOW}`, `t=${NOW + 1}`) })).toBe('hmac_mismatch');
    expect(verify({ header: good(), secrets: [Buffer.alloc(32, 7)] })).toBe('hmac_mismatch');
  });

  it('accepts the current or the previous secret (rotation)', () => {
    const previous = Buffer.from('the-previous-secret-utf8-bytes!!');
    const signedWithPrevious = `t=${NOW},s=${mac(previous, `${NOW}.GET./api/x`)}`;
    expect(verify({ header: signedWithPrevious, secrets: [SECRET, previous] })).toBe('valid');
    expect(verify({ header: good(), secrets: [SECRET, previous] })).toBe('valid');
    expect(verify({ header: signedWithPrevious, secrets: [SECRET] })).toBe('hmac_mismatch');
  });
});

describe('signing secrets from the keyring (ref-02 §3.4, PRODUCT §3.2)', () => {
  it('hex-decodes valid hex, else uses UTF-8 bytes; empty or < 16 bytes is absent', () => {
    expect(decodeSigningSecret(HEX)).toEqual(SECRET);
    expect(decodeSigningSecret('plain-utf8-secret-NOT-hex!')).toEqual(Buffer.from('plain-utf8-secret-NOT-hex!'));
    expect(decodeSigningSecret('')).toBeUndefined();
    expect(decodeSigningSecret('short-secret')).toBeUndefined();
    expect(decodeSigningSecret('00112233445566778899aabbccddee')).toBeUndefined(); // 15 bytes of hex
    expect(decodeSigningSecret('abc')).toBeUndefined();
  });

  it('a UTF-8 secret verifies signatures made with its bytes; current and previous entries both load', () => {
    const kr = new Keyring(
      [
        ['sandbox_signing_shared_secret', 'plain-utf8-secret-NOT-hex!'],
        ['sandbox_signing_shared_secret_previous', HEX],
      ],
      'test',
    );
    const secrets = signingSecretsFromKeyring(kr);
    expect(secrets).toHaveLength(2);
    const header = `t=${NOW},s=${mac(Buffer.from('plain-utf8-secret-NOT-hex!'), `${NOW}.DELETE./v1/a`)}`;
    expect(verify({ header, method: 'DELETE', path: '/v1/a', secrets })).toBe('valid');
  });
});
