/** Pure pieces of the passthrough plugin: path rewriting, placeholders, query credential, header rules, redaction. */
import { describe, expect, it } from 'vitest';
import { Keyring } from '../../../config/keyring.js';
import type { ProviderFields } from '../../../config/manifest-types.js';
import {
  encodeQueryComponent,
  expandPlaceholders,
  queryWithCredential,
  resolveInjection,
} from '../../../plugins/passthrough/credentials.js';
import { injectedSecretMatcher } from '../../../kernel/redact.js';
import { errorKind, redact, upstreamError } from '../../../plugins/passthrough/errors.js';
import {
  connectionTokens,
  filterRequestHeaders,
  filterResponseHeaders,
  REQUEST_ALWAYS_DROPPED,
} from '../../../plugins/passthrough/headers.js';
import {
  decodeUnreserved,
  normalisePrefix,
  upstreamPathOf,
  type RouteSpec,
} from '../../../plugins/passthrough/route-spec.js';

function spec(prefix: string | undefined, strip = true, replace?: [string, string]): RouteSpec {
  const pathPrefix = normalisePrefix(prefix);
  return {
    pathPrefix,
    strip: strip && pathPrefix !== '/',
    replaceFrom: replace ? replace[0] : null,
    replaceTo: replace ? replace[1] : '',
  } as RouteSpec;
}

describe('path rewriting (ref-02 §1.6 table, with the leading slash kept)', () => {
  it.each([
    [spec('/test'), '/test/foo', '/foo'],
    [spec('/test'), '/test', '/'],
    [spec('/test/'), '/test/', '/'],
    [spec('/test', false), '/test/foo', '/test/foo'],
    [spec('/otel', true, ['/', '/otlp/']), '/otel/v1/traces', '/otlp/v1/traces'],
    [spec('/otel', false, ['/otel', '/otlp']), '/otel/v1/traces', '/otlp/v1/traces'],
    [spec('/'), '/admin/x', '/admin/x'],
    [spec(undefined), '/anything', '/anything'],
    [spec('/sessions'), '/sessions', '/'],
    [spec('/v', true, ['/a', '']), '/v/a', '/'],
    [spec('/v'), '/v/%61dmin/%2F', '/admin/%2F'],
  ])('%# %s', (s, input, expected) => {
    expect(upstreamPathOf(s, input)).toBe(expected);
  });

  it('normalises prefixes like the reference and decodes only unreserved escapes', () => {
    expect(normalisePrefix('/a///')).toBe('/a');
    expect(normalisePrefix('/')).toBe('/');
    expect(normalisePrefix(undefined)).toBe('/');
    expect(decodeUnreserved('/%7Euser/%41-%5F/%20/%25')).toBe('/~user/A-_/%20/%25');
  });
});

describe('credentials', () => {
  const kr = new Keyring(
    [
      ['otlp_creds', 'dGVzdC1jcmVk\n'],
      ['lower', 'L'],
    ],
    'test',
  ).accessor();

  it('expands ${entry} once, trims values, falls back to the lower-cased name, keeps stray $ literally', () => {
    expect(expandPlaceholders('Basic ${otlp_creds}', kr)).toEqual({
      value: 'Basic dGVzdC1jcmVk',
      used: [['otlp_creds', 'dGVzdC1jcmVk']],
    });
    expect(expandPlaceholders('x-${LOWER}-$ {a} ${ -${}', kr)).toMatchObject({ value: 'x-L-$ {a} ${ -${}' });
    expect(expandPlaceholders('é${lower}ü', kr)).toMatchObject({ value: 'éLü' });
    expect(expandPlaceholders('Bearer ${missing}', kr)).toEqual({ missing: 'missing' });
  });

  it('encodes the query credential with one encoding and replaces caller parameters of that name', () => {
    expect(encodeQueryComponent("a b/&=+!'()*~._-")).toBe('a%20b%2F%26%3D%2B%21%27%28%29%2A~._-');
    const cred = { name: 'api_key', pair: 'api_key=s%20k' };
    expect(queryWithCredential('', cred)).toBe('api_key=s%20k');
    expect(queryWithCredential('a=1', cred)).toBe('a=1&api_key=s%20k');
    expect(queryWithCredential('api_key=x&a=1&api%5Fkey=y&api_key', cred)).toBe('a=1&api_key=s%20k');
    expect(queryWithCredential('api_keys=1', cred)).toBe('api_keys=1&api_key=s%20k');
  });
});

describe('header rules', () => {
  it('collects Connection-named headers, ignoring the usual tokens', () => {
    expect(connectionTokens('keep-alive')).toBeNull();
    expect(connectionTokens('close')).toBeNull();
    expect([...connectionTokens('Keep-Alive, X-Hop , upgrade,x-two')!]).toEqual(['x-hop', 'x-two']);
  });

  it('filters request headers (duplicates and case kept) and response headers (Content-Length parsed)', () => {
    const out = filterRequestHeaders(
      [
        'Host',
        'h',
        'Accept',
        'a',
        'X-Dup',
        '1',
        'x-dup',
        '2',
        'Connection',
        'x-gone',
        'X-Gone',
        'g',
        'X-Sandbox-Job-Id',
        'j',
        'X-Sandbox',
        'kept',
      ],
      REQUEST_ALWAYS_DROPPED,
      'x-gone',
      [],
    );
    expect(out).toEqual(['Accept', 'a', 'X-Dup', '1', 'x-dup', '2', 'X-Sandbox', 'kept']);
    const res = filterResponseHeaders(
      ['Content-Length', '12', 'Transfer-Encoding', 'chunked', 'Connection', 'x-a', 'X-A', '1', 'Set-Cookie', 'c'].map(
        (s) => Buffer.from(s),
      ),
    );
    expect(res).toEqual({ headers: ['Content-Length', '12', 'Set-Cookie', 'c'], contentLength: 12 });
  });
});

describe('upstream error texts', () => {
  it('classifies timeouts as 504 and everything else as 502', () => {
    const t = { connect: 5000, headers: 300000 };
    expect(
      upstreamError(Object.assign(new Error('x'), { code: 'UND_ERR_CONNECT_TIMEOUT' }), t, injectedSecretMatcher([]))
        .status,
    ).toBe(504);
    expect(
      upstreamError(Object.assign(new Error('x'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), t, injectedSecretMatcher([]))
        .message,
    ).toBe('gateway timeout: upstream sent no response headers within 300s');
    const refused = upstreamError(
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
      t,
      injectedSecretMatcher([]),
    );
    expect([refused.status, refused.code, refused.message]).toEqual([
      502,
      'ATI_ERR_UPSTREAM',
      'bad gateway: upstream error: connect ECONNREFUSED 127.0.0.1:1',
    ]);
    expect(errorKind({ code: 'UND_ERR_SOCKET' })).toBe('send');
  });

  it('redacts query strings, userinfo and known secrets', () => {
    const route = injectedSecretMatcher(['tok-123']);
    expect(redact('error sending request for url (https://u:p@h.example/x?api_key=SECRET&a=1)', route)).toBe(
      'error sending request for url (https://[REDACTED]@h.example/x?[REDACTED])',
    );
    expect(redact('bad value tok-123 here', route)).toBe('bad value [REDACTED] here');
  });

  it('the route redactor hides every secret the route injects, in every spelling, from upstream error texts', () => {
    const q = 'q"k y'; // five characters: below the keyring-wide minimum, still a credential of this route
    const kr = new Keyring(
      [
        ['qk', `${q}\n`],
        ['h', 'h-1234'],
      ],
      't',
    ).accessor();
    const p = {
      name: 'r',
      auth_type: 'query',
      auth_key_name: 'qk',
      extra_headers: { 'X-H': 'v ${h}' },
    } as unknown as ProviderFields;
    const inj = resolveInjection(p, kr);
    expect(inj.query?.pair).toBe(`api_key=${encodeQueryComponent(q)}`);
    const cause = Object.assign(
      new Error(
        `error sending request for url (http://up/x?api_key=${encodeQueryComponent(q)}): ` +
          `raw ${q} pct ${encodeURIComponent(q)} form ${new URLSearchParams([['', q]]).toString().slice(1)} ` +
          `json ${JSON.stringify(q)} header h-1234`,
      ),
      { code: 'ECONNRESET' },
    );
    expect(upstreamError(cause, { connect: 5000, headers: 5000 }, inj.redactor).message).toBe(
      'bad gateway: upstream error: error sending request for url (http://up/x?[REDACTED]): ' +
        'raw [REDACTED] pct [REDACTED] form [REDACTED] json "[REDACTED]" header [REDACTED]',
    );
  });
});
