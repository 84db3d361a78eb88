import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../kernel/logger.js';
import {
  MIN_INJECTED_SECRET_LENGTH,
  MIN_REDACT_LENGTH,
  REDACTED,
  injectedSecretMatcher,
  SecretMatcher,
  redactHeaders,
  redactText,
  redactUrl,
  scrubLogLine,
  setCandidateRedactionValues,
  setRedactionValues,
  KeyringRedaction,
} from '../../kernel/redact.js';

/** A pino destination that keeps every line. */
function memoryDestination(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return { lines, stream };
}

const SECRETS = [
  'sk-live-0123456789abcdef',
  'pa"ss\\word-with-quote', // needs JSON escaping
  'päss✓wörd-ünïcode', // multi-byte
  'abc+def/ghi=jkl==', // changes under percent-encoding
  '123456789', // looks like a number
];

describe('redaction', () => {
  afterEach(() => setRedactionValues([]));

  it('SecretMatcher redacts raw, percent-encoded and form-encoded spellings; ignores values shorter than the minimum', () => {
    const m = new SecretMatcher([...SECRETS, 'short']);
    expect(m.size).toBe(SECRETS.length);
    for (const s of SECRETS) {
      expect(m.redact(`x ${s} y`)).toBe(`x ${REDACTED} y`);
      expect(m.redact(`q=${encodeURIComponent(s)}&z`)).toBe(`q=${REDACTED}&z`);
    }
    expect(m.redact('a b c short')).toBe('a b c short');
    expect('short'.length).toBeLessThan(MIN_REDACT_LENGTH);
    expect(m.redact('ab+def/ghi=jkl')).toBe('ab+def/ghi=jkl'); // a near miss is left alone
  });

  it('scrubJsonLine keeps the line valid JSON even when a secret looks like a number or sits in a key', () => {
    const m = new SecretMatcher(SECRETS);
    const obj = {
      message: `call failed for ${SECRETS[0]}`,
      n: 123456789,
      nested: { [SECRETS[1]!]: [SECRETS[2], 'ok'] },
      url: `https://api.example.com/v1?key=${encodeURIComponent(SECRETS[3]!)}`,
    };
    const out = m.scrubJsonLine(`${JSON.stringify(obj)}\n`);
    expect(out.endsWith('\n')).toBe(true);
    const parsed = JSON.parse(out) as Record<string, unknown>;
    expect(parsed).toEqual({
      message: `call failed for ${REDACTED}`,
      n: REDACTED,
      nested: { [REDACTED]: [REDACTED, 'ok'] },
      url: `https://api.example.com/v1?key=${REDACTED}`,
    });
    for (const s of SECRETS) expect(out).not.toContain(s);
    // A line without a secret is returned as is (same string).
    const clean = '{"message":"fine","n":1}\n';
    expect(m.scrubJsonLine(clean)).toBe(clean);
  });

  it('redactUrl removes userinfo and credential-looking query values, keeping everything else', () => {
    expect(redactUrl('https://user:pa55@api.example.com/x?q=1')).toBe(`https://${REDACTED}@api.example.com/x?q=1`);
    expect(redactUrl('https://h/p?api_key=abc&page=2&access_token=t&X-Amz-Signature=s&sig=z#frag')).toBe(
      `https://h/p?api_key=${REDACTED}&page=2&access_token=${REDACTED}&X-Amz-Signature=${REDACTED}&sig=${REDACTED}#frag`,
    );
    expect(redactUrl('https://h/p?appid=abc&assignee=bob', ['appid'])).toBe(
      `https://h/p?appid=${REDACTED}&assignee=bob`,
    );
    expect(redactUrl('https://h/p')).toBe('https://h/p');
  });

  it('redactText handles URLs inside messages and keyring values anywhere', () => {
    setRedactionValues(['keyring-value-42xyz']);
    const msg =
      'fetch failed: connect ECONNREFUSED https://bob:hunter22@10.0.0.1:9/v1/x?token=abc&x=1 (key keyring-value-42xyz)';
    expect(redactText(msg)).toBe(
      `fetch failed: connect ECONNREFUSED https://${REDACTED}@10.0.0.1:9/v1/x?token=${REDACTED}&x=1 (key ${REDACTED})`,
    );
  });

  it('redactHeaders hides credential headers and keyring values in others', () => {
    setRedactionValues(['keyring-value-42xyz']);
    expect(
      redactHeaders({
        authorization: 'Bearer abc',
        'x-api-key': 'k',
        cookie: 'c=1',
        'x-sandbox-signature': 't=1,s=2',
        accept: 'application/json',
        'x-note': 'has keyring-value-42xyz inside',
        'content-length': 3 as unknown as string,
      }),
    ).toEqual({
      authorization: REDACTED,
      'x-api-key': REDACTED,
      cookie: REDACTED,
      'x-sandbox-signature': REDACTED,
      accept: 'application/json',
      'x-note': `has ${REDACTED} inside`,
      'content-length': 3,
    });
  });

  it('the matcher is rebuilt only when the set of values changes; candidate values add to the serving ones', () => {
    const r = new KeyringRedaction();
    r.setServing(['serving-secret-1', 'serving-secret-2']);
    const a = r.matcher;
    r.setServing(['serving-secret-2', 'serving-secret-1']);
    expect(r.matcher).toBe(a);
    r.setCandidate(['candidate-secret-3']);
    const b = r.matcher;
    expect(b).not.toBe(a);
    expect(b.redact('serving-secret-1 candidate-secret-3')).toBe(`${REDACTED} ${REDACTED}`);
    r.setServing(['serving-secret-1']); // swap clears the candidate slot
    expect(r.matcher.redact('candidate-secret-3 serving-secret-1')).toBe(`candidate-secret-3 ${REDACTED}`);
    // The process-wide functions drive one such set: candidate values add to the serving ones.
    setRedactionValues(['serving-secret-1']);
    setCandidateRedactionValues(['candidate-secret-3']);
    expect(redactText('serving-secret-1 candidate-secret-3')).toBe(`${REDACTED} ${REDACTED}`);
    setRedactionValues(['serving-secret-1']);
    expect(redactText('candidate-secret-3 serving-secret-1')).toBe(`candidate-secret-3 ${REDACTED}`);
  });

  it('the logger scrubs every line (message, fields, child bindings, errors, URLs) and keeps it valid JSON', () => {
    const { lines, stream } = memoryDestination();
    const log = createLogger({ level: 'debug', destination: stream });
    setRedactionValues(SECRETS);
    log.info({ upstream: `https://api.example.com/?api_key=${SECRETS[0]}` }, `using ${SECRETS[1]}`);
    log.child({ provider: SECRETS[2] }).warn({ count: 123456789 }, 'child');
    log.error({ err: new Error(`boom ${SECRETS[3]}`) }, 'failed');
    log.info({ url: 'https://admin:letmein@db.internal:5432/x?password=pw&db=main' }, 'connect');
    expect(lines).toHaveLength(4);
    for (const l of lines) {
      const parsed = JSON.parse(l) as Record<string, unknown>;
      expect(parsed['level']).toMatch(/INFO|WARN|ERROR/);
      for (const s of SECRETS) expect(l).not.toContain(s);
      expect(l).not.toContain('letmein');
      expect(l).not.toContain('password=pw');
    }
    expect(JSON.parse(lines[3]!)).toMatchObject({
      url: `https://${REDACTED}@db.internal:5432/x?password=${REDACTED}&db=main`,
    });
  });

  it('scrubLogLine is a no-op for ordinary lines', () => {
    setRedactionValues(SECRETS);
    const line =
      '{"level":"INFO","timestamp":"2026-01-01T00:00:00.000Z","path":"/health","status":200,"message":"request"}\n';
    expect(scrubLogLine(line)).toBe(line);
  });
});

describe('one redactor for every spelling of a secret', () => {
  // A secret whose spellings all differ: a space (percent vs form), `"` (JSON), `/` and `!'` (strict percent).
  const s = `"a b/!'`;
  const strict = (v: string) =>
    encodeURIComponent(v).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const forms: Record<string, string> = {
    raw: s,
    percent: encodeURIComponent(s),
    form: new URLSearchParams([['', s]]).toString().slice(1),
    plus: encodeURIComponent(s).replace(/%20/g, '+'),
    strict: strict(s),
    json: JSON.stringify(s).slice(1, -1),
    basic: Buffer.from(`${s}:`).toString('base64'),
  };

  it('replaces the raw, percent-encoded, form-encoded, strict, JSON-escaped and basic-auth forms, each whole', () => {
    expect(new Set(Object.values(forms)).size).toBe(Object.keys(forms).length);
    const m = new SecretMatcher([s]);
    for (const [name, f] of Object.entries(forms)) {
      const out = m.redact(`${name}=<${f}>`);
      // The basic-auth form is matched without its base64 padding.
      expect(out, name).toMatch(new RegExp(`^${name}=<\\[REDACTED\\]=*>$`));
      expect(out, name).not.toContain(f.replace(/=+$/, ''));
    }
    // `Authorization: Basic base64("<secret>:")` as the http and mcp handlers send it.
    expect(m.redact(`Basic ${forms['basic']}`)).toMatch(/^Basic \[REDACTED\]=*$/);
  });

  it('replaces each long line of a multi-line secret on its own, and the secret inside JSON', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nshort\n-----END PRIVATE KEY-----';
    const m = new SecretMatcher([pem]);
    expect(m.redact('line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC')).toBe('line: [REDACTED]');
    expect(m.redact(JSON.stringify({ key: pem }))).toBe('{"key":"[REDACTED]"}');
    expect(m.redact(`whole:\n${pem}\n`)).toBe('whole:\n[REDACTED]\n');
    // Lines shorter than 16 characters are ordinary text, not evidence of the secret.
    expect(m.redact('a short line')).toBe('a short line');
  });

  it('has one minimum length, an option: 6 for the keyring, 4 for injected secrets, or any given', () => {
    expect(MIN_REDACT_LENGTH).toBe(6);
    expect(MIN_INJECTED_SECRET_LENGTH).toBe(4);
    const values = ['abc', 'abcd', 'abcde', 'abcdef'];
    expect(new SecretMatcher(values).size).toBe(1);
    expect(new SecretMatcher(values).redact('abcde abcdef')).toBe(`abcde ${REDACTED}`);
    expect(injectedSecretMatcher(values).size).toBe(3);
    expect(injectedSecretMatcher(values).redact('abc abcd abcde')).toBe(`abc ${REDACTED} ${REDACTED}`);
    expect(new SecretMatcher(values, { minLength: 1 }).redact('abc')).toBe(REDACTED);
    // The process-wide keyring matcher uses the default: short keyring values are settings, not secrets.
    setRedactionValues(['eu', 'region-secret-1']);
    expect(redactText('eu region-secret-1')).toBe(`eu ${REDACTED}`);
  });

  it('redactText: URL userinfo and credential parameters, then the secrets; whole query on request', () => {
    const m = injectedSecretMatcher(['tok-5']);
    const msg = 'error sending request for url (https://u:p@h.example/x?appid=tok-5&page=2&token=z#f), retry';
    expect(m.redactText(msg)).toBe(
      `error sending request for url (https://${REDACTED}@h.example/x?appid=${REDACTED}&page=2&token=${REDACTED}#f), retry`,
    );
    expect(m.redactText(msg, { paramNames: ['APPID'] })).toContain(`?appid=${REDACTED}&page=2`);
    expect(m.redactText(msg, { query: 'all' })).toBe(
      `error sending request for url (https://${REDACTED}@h.example/x?${REDACTED}#f), retry`,
    );
    // A URL at the end of a sentence or in parentheses keeps the punctuation outside it.
    expect(m.redactText('see https://h/x?sig=abc.')).toBe(`see https://h/x?sig=${REDACTED}.`);
    expect(m.redactText('(https://h/a_(b)?key=k)')).toBe(`(https://h/a_(b)?key=${REDACTED})`);
    expect(redactUrl('https://h/p?', { query: 'all' })).toBe('https://h/p?');
  });

  it('redactValue redacts strings, keys and numbers of a JSON value and returns clean values unchanged', () => {
    const m = injectedSecretMatcher(['98765', 'sk-abc']);
    const clean = { a: [1, 'x'], b: null };
    expect(m.redactValue(clean)).toEqual(clean);
    expect(m.redactValue({ n: 98765, ['sk-abc']: ['use sk-abc', true] })).toEqual({
      n: REDACTED,
      [REDACTED]: [`use ${REDACTED}`, true],
    });
    expect(injectedSecretMatcher([]).redactValue('sk-abc')).toBe('sk-abc');
  });
});
