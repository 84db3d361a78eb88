import { createDecipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MIN_KEYRING_BYTES,
  decryptKeyring,
  encryptKeyring,
  parseKeyringPlaintext,
  readKeyringFile,
  sealKeyringBytes,
  writeKeyringFile,
} from '../../config/keyring-enc.js';
import {
  decodeKeyFile,
  encodeKey,
  readPersistentKey,
  readSealedKey,
  writePersistentKey,
} from '../../config/keyring-key.js';
import {
  loadCredentialsKeyring,
  readCredentials,
  removeCredential,
  setCredential,
} from '../../config/credentials-file.js';
import { prettySortedJson } from '../../config/secret-json.js';
import { maskSecret, formatKeyList } from '../../config/secret-mask.js';
import { compareUtf8 } from '../../config/secret-json.js';

const FILE = '/x/keyring.enc';
const SECRET = 'sk-very-secret-value-123';

describe('keyring.enc format', () => {
  const key = randomBytes(32);

  it('is nonce(12) ‖ AES-256-GCM ciphertext ‖ tag(16) of pretty, byte-sorted JSON, no AAD', () => {
    const entries = new Map([
      ['zeta', 'z'],
      ['Alpha', 'a"b\\c\n'],
      ['émoji', '✓'],
      ['beta', ''],
    ]);
    const blob = encryptKeyring(entries, key);
    const expected = '{\n  "Alpha": "a\\"b\\\\c\\n",\n  "beta": "",\n  "zeta": "z",\n  "émoji": "✓"\n}';
    expect(prettySortedJson(entries)).toBe(expected);
    expect(blob.length).toBe(12 + Buffer.byteLength(expected) + 16);
    // Decrypt by hand with the documented layout.
    const d = createDecipheriv('aes-256-gcm', key, blob.subarray(0, 12));
    d.setAuthTag(blob.subarray(blob.length - 16));
    const plain = Buffer.concat([d.update(blob.subarray(12, blob.length - 16)), d.final()]).toString('utf8');
    expect(plain).toBe(expected);
    expect(decryptKeyring(blob, key, FILE)).toEqual(entries);
  });

  it('an empty keyring is "{}" and round-trips', () => {
    const blob = encryptKeyring(new Map(), key);
    expect(blob.length).toBe(12 + 2 + 16);
    expect(decryptKeyring(blob, key, FILE).size).toBe(0);
  });

  it('uses a fresh nonce for every encryption', () => {
    const e = new Map([['a', 'b']]);
    const a = encryptKeyring(e, key);
    const b = encryptKeyring(e, key);
    expect(a.equals(b)).toBe(false);
    expect(a.subarray(0, 12).equals(b.subarray(0, 12))).toBe(false);
  });

  it('accepts any valid JSON whitespace and compact input', () => {
    const blob = sealKeyringBytes(Buffer.from(' {"b":"2" ,\t"a" : "1"}\r\n'), key);
    expect([...decryptKeyring(blob, key, FILE)]).toEqual([
      ['b', '2'],
      ['a', '1'],
    ]);
  });

  it('each failure is its own clear error naming the file, never quoting the plaintext', () => {
    const good = encryptKeyring(new Map([['k', SECRET]]), key);
    const cases: Array<[string, () => unknown, RegExp]> = [
      [
        'too small',
        () => decryptKeyring(good.subarray(0, MIN_KEYRING_BYTES - 1), key, FILE),
        /keyring file \/x\/keyring\.enc is too small \(27 bytes; need at least nonce \+ tag = 28\)/,
      ],
      [
        'wrong key',
        () => decryptKeyring(good, randomBytes(32), FILE),
        /keyring file \/x\/keyring\.enc could not be decrypted: wrong key or corrupted file/,
      ],
      [
        'flipped byte',
        () => {
          const bad = Buffer.from(good);
          bad[20]! ^= 0x01;
          return decryptKeyring(bad, key, FILE);
        },
        /could not be decrypted: wrong key or corrupted file/,
      ],
      [
        'flipped tag byte',
        () => {
          const bad = Buffer.from(good);
          bad[bad.length - 1]! ^= 0x80;
          return decryptKeyring(bad, key, FILE);
        },
        /could not be decrypted/,
      ],
      [
        'invalid JSON',
        () => decryptKeyring(sealKeyringBytes(Buffer.from(`{"k": ${SECRET}}`), key), key, FILE),
        /decrypted, but is not a keyring: invalid JSON/,
      ],
      [
        'non-object',
        () => decryptKeyring(sealKeyringBytes(Buffer.from(`["${SECRET}"]`), key), key, FILE),
        /expected a JSON object of strings, found an array/,
      ],
      [
        'non-string value',
        () => decryptKeyring(sealKeyringBytes(Buffer.from(`{"ok":"${SECRET}","n":42}`), key), key, FILE),
        /entry 'n' must be a string, found a number/,
      ],
      [
        'invalid UTF-8',
        () =>
          decryptKeyring(
            sealKeyringBytes(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x22, 0x22, 0x7d]), key),
            key,
            FILE,
          ),
        /not valid UTF-8/,
      ],
    ];
    const messages = new Set<string>();
    for (const [name, fn, re] of cases) {
      let msg = '';
      try {
        fn();
      } catch (err) {
        msg = (err as Error).message;
        expect((err as { code?: string }).code, name).toBe('ATI_ERR_KEYRING');
      }
      expect(msg, name).toMatch(re);
      expect(msg, name).not.toContain(SECRET);
      expect(msg, name).toContain(FILE);
      messages.add(msg);
    }
    // Wrong key and a flipped byte are indistinguishable by design of GCM; all other failures differ.
    expect(messages.size).toBe(cases.length - 2);
  });

  it('zeroes the decrypted plaintext buffer once parsed (also on error)', () => {
    const plain = Buffer.from('{"a":"secret-aaaaaa"}');
    expect(parseKeyringPlaintext(plain, FILE).get('a')).toBe('secret-aaaaaa');
    expect(plain.every((b) => b === 0)).toBe(true);
    const bad = Buffer.from('[1,2,3]');
    expect(() => parseKeyringPlaintext(bad, FILE)).toThrow(/found an array/);
    expect(bad.every((b) => b === 0)).toBe(true);
  });
});

describe('key files and credentials (real files)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ati-keyfiles-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('key files: strict padded base64 of exactly 32 bytes, surrounding whitespace ignored', () => {
    const key = randomBytes(32);
    const b64 = encodeKey(key);
    expect(b64).toHaveLength(44);
    expect(decodeKeyFile(Buffer.from(`\n  ${b64}\n\n`), 'k').equals(key)).toBe(true);
    const bad: Array<[string, RegExp]> = [
      [b64.replace(/=$/, ''), /invalid base64 in key file k/], // missing padding
      [`${b64.slice(0, 20)} ${b64.slice(20)}`, /invalid base64/], // embedded space
      [b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/^./, '-'), /invalid base64/], // url alphabet
      [randomBytes(16).toString('base64'), /expected 32 bytes, got 16/],
      ['', /expected 32 bytes, got 0/],
    ];
    // Non-canonical: last significant character carries non-zero padding bits.
    const chars = b64.split('');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    chars[42] = alphabet[(alphabet.indexOf(chars[42]!) & ~0b11) | 0b01]!;
    bad.push([chars.join(''), /non-canonical/]);
    for (const [text, re] of bad) expect(() => decodeKeyFile(Buffer.from(text), 'k'), text).toThrow(re);
  });

  it('decodeKeyFile zeroes the file content buffer', () => {
    const buf = Buffer.from(encodeKey(randomBytes(32)));
    decodeKeyFile(buf, 'k');
    expect(buf.every((b) => b === 0)).toBe(true);
  });

  it('the sealed key is unlinked on read (even when later unusable); consume:false keeps it', async () => {
    const file = path.join(dir, '.key');
    const key = randomBytes(32);
    await writeFile(file, encodeKey(key));
    const kept = await readSealedKey(file, { consume: false });
    expect(kept.key.equals(key)).toBe(true);
    await stat(file);
    const r = await readSealedKey(file);
    expect(r.key.equals(key)).toBe(true);
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readSealedKey(file)).rejects.toThrow(
      `sealed key file not found at ${file} — was it already consumed?`,
    );
    await writeFile(file, 'not base64!');
    await expect(readSealedKey(file)).rejects.toThrow(/invalid base64/);
    await expect(stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('the persistent key is written 0600 without newline and read back unchanged', async () => {
    const file = path.join(dir, '.keyring-key');
    const key = randomBytes(32);
    await writePersistentKey(file, key);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).toBe(encodeKey(key));
    expect((await readPersistentKey(file)).equals(key)).toBe(true);
    await expect(readPersistentKey(path.join(dir, 'nope'))).rejects.toThrow(/no persistent key at/);
  });

  it('writeKeyringFile writes 0600 and reads back; the returned size is 12 + plaintext + 16', async () => {
    const file = path.join(dir, 'keyring.enc');
    const key = randomBytes(32);
    const entries = new Map([
      ['b', '2'],
      ['a', '1'],
    ]);
    const n = await writeKeyringFile(file, entries, key);
    expect(n).toBe(12 + prettySortedJson(entries).length + 16);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readKeyringFile(file, key)).toEqual(entries);
    await expect(readKeyringFile(path.join(dir, 'missing'), key)).rejects.toThrow(/could not be read: ENOENT/);
  });

  it('credentials: @file: resolves trimmed contents of a trimmed path; a missing target fails the whole load', async () => {
    const target = path.join(dir, 'token.txt');
    await writeFile(target, '\n  file-secret-value \n');
    const cred = path.join(dir, 'credentials');
    await writeFile(cred, JSON.stringify({ a: 'plain', b: `@file:  ${target}  ` }));
    expect(await loadCredentialsKeyring(cred)).toEqual(
      new Map([
        ['a', 'plain'],
        ['b', 'file-secret-value'],
      ]),
    );
    // `ati key` reads the reference text, unresolved.
    expect((await readCredentials(cred)).get('b')).toBe(`@file:  ${target}  `);
    await writeFile(cred, JSON.stringify({ a: 'plain', b: `@file:${dir}/missing.txt` }));
    await expect(loadCredentialsKeyring(cred)).rejects.toThrow(
      `entry 'b' refers to @file:${dir}/missing.txt, which could not be read (ENOENT)`,
    );
  });

  it('credentials: bad JSON is an error that does not quote the file', async () => {
    const cred = path.join(dir, 'credentials');
    await writeFile(cred, `{"a": ${SECRET}}`);
    const err = (await loadCredentialsKeyring(cred).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/credentials file .* could not be parsed: invalid JSON/);
    expect(err.message).not.toContain(SECRET);
    await expect(readCredentials(cred)).rejects.toThrow(/could not be parsed/);
    await writeFile(cred, '{"a": {"b": "c"}}');
    await expect(readCredentials(cred)).rejects.toThrow(/entry 'a' must be a string, found an object/);
  });

  it('set/remove keep other entries, write sorted pretty JSON without trailing newline, 0600', async () => {
    const cred = path.join(dir, 'sub', 'dir', 'credentials');
    await setCredential(cred, 'zed', 'z-value');
    await setCredential(cred, 'alpha', 'a-value');
    await setCredential(cred, '__proto__', 'proto-value');
    expect(await readFile(cred, 'utf8')).toBe(
      '{\n  "__proto__": "proto-value",\n  "alpha": "a-value",\n  "zed": "z-value"\n}',
    );
    expect((await stat(cred)).mode & 0o777).toBe(0o600);
    await removeCredential(cred, 'alpha');
    expect([...(await readCredentials(cred)).keys()]).toEqual(['__proto__', 'zed']);
    const before = await readFile(cred);
    await expect(removeCredential(cred, 'alpha')).rejects.toThrow("Key 'alpha' not found.");
    expect((await readFile(cred)).equals(before)).toBe(true);
  });

  it('masking: reference examples for ASCII; code points for multi-byte secrets', () => {
    expect(maskSecret('sk-1234567890abcdef')).toBe('sk-1...cdef');
    expect(maskSecret('secret1234')).toBe('se...34');
    expect(maskSecret('abc')).toBe('***');
    expect(maskSecret('sk-test-12345')).toBe('sk-t...2345');
    expect(maskSecret('')).toBe('');
    expect(maskSecret('ключ-секрет-длинный')).toBe('ключ...нный');
    expect(maskSecret('🔑🔑🔑🔑🔑')).toBe('🔑🔑...🔑🔑');
    expect(maskSecret('@file:/etc/ati/token')).toBe('@file:/etc/ati/token');
    expect(
      formatKeyList(
        new Map([
          ['b', 'secret1234'],
          ['a', 'abc'],
        ]),
        compareUtf8,
      ),
    ).toEqual([`a${' '.repeat(29)} ***`, `b${' '.repeat(29)} se...34`]);
  });
});
