/**
 * The one credential-injection switch and the styles of the built-in handlers:
 * each handler's reference behaviour is an option of the same function.
 */
import { describe, expect, it } from 'vitest';
import { Keyring } from '../../config/keyring.js';
import type { ProviderFields } from '../../config/manifest-types.js';
import { MCP_INJECTION } from '../../plugins/mcp/schema.js';
import { PASSTHROUGH_INJECTION } from '../../plugins/passthrough/credentials.js';
import { HTTP_INJECTION } from '../../plugins/shared-http/auth-injection.js';
import {
  authSettings,
  injectCredential,
  lookupCredential,
  placeCredential,
  type InjectionStyle,
} from '../../sdk/credential-injection.js';

/** The auth fields are all that the switch reads. */
const fields = (auth: Partial<ProviderFields>) => ({ name: 'p', auth_type: 'none', ...auth }) as ProviderFields;

const place = (style: InjectionStyle, extra: Partial<ProviderFields>, secret = 'k-1') =>
  placeCredential(authSettings(fields(extra), style), secret);
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('credential injection', () => {
  it('places bearer, header, query and basic credentials the http/openapi way', () => {
    expect(place(HTTP_INJECTION, { auth_type: 'bearer' })).toEqual({
      header: { name: 'authorization', value: 'Bearer k-1' },
      secrets: ['k-1'],
    });
    expect(place(HTTP_INJECTION, { auth_type: 'header' }).header).toEqual({ name: 'X-Api-Key', value: 'k-1' });
    expect(
      place(HTTP_INJECTION, { auth_type: 'header', auth_header_name: 'X-Key', auth_value_prefix: 'Token ' }).header,
    ).toEqual({ name: 'X-Key', value: 'Token k-1' });
    // auth_header_name renames only the `header` credential here.
    expect(place(HTTP_INJECTION, { auth_type: 'bearer', auth_header_name: 'X-Key' }).header!.name).toBe(
      'authorization',
    );
    expect(place(HTTP_INJECTION, { auth_type: 'query' })).toEqual({
      query: { name: 'api_key', value: 'k-1' },
      secrets: ['k-1'],
    });
    expect(place(HTTP_INJECTION, { auth_type: 'query', auth_query_name: 'token' }).query!.name).toBe('token');
    expect(place(HTTP_INJECTION, { auth_type: 'basic' })).toEqual({
      header: { name: 'authorization', value: `Basic ${b64('k-1:')}` },
      secrets: ['k-1', b64('k-1:')],
    });
    expect(place(HTTP_INJECTION, { auth_type: 'oauth2' }, 'access-tok').header!.value).toBe('Bearer access-tok');
    for (const t of ['none', 'url'] as const) expect(place(HTTP_INJECTION, { auth_type: t })).toEqual({ secrets: [] });
  });

  it('MCP: auth_header_name (default Authorization) names every header credential; query sends nothing', () => {
    expect(place(MCP_INJECTION, { auth_type: 'bearer', auth_header_name: 'X-Key' }).header).toEqual({
      name: 'X-Key',
      value: 'Bearer k-1',
    });
    expect(place(MCP_INJECTION, { auth_type: 'header', auth_value_prefix: 'T ' }).header).toEqual({
      name: 'Authorization',
      value: 'T k-1',
    });
    const kr = new Keyring([['k', 'k-1']], 't').accessor();
    expect(injectCredential(authSettings(fields({ auth_type: 'query', auth_key_name: 'k' }), MCP_INJECTION), kr)).toBe(
      undefined,
    );
  });

  it('passthrough: basic encodes the entry as is, the entry is looked up lower-cased first and trimmed', () => {
    expect(place(PASSTHROUGH_INJECTION, { auth_type: 'basic' }, 'user:pass').header).toEqual({
      name: 'authorization',
      value: `Basic ${b64('user:pass')}`,
    });
    const kr = new Keyring(
      [
        ['my_key', ' lower\n'],
        ['My_Key', 'exact'],
        ['Only_Exact', 'e'],
      ],
      't',
    ).accessor();
    expect(lookupCredential(kr, 'My_Key', PASSTHROUGH_INJECTION)).toBe('lower');
    expect(lookupCredential(kr, 'Only_Exact', PASSTHROUGH_INJECTION)).toBe('e');
    expect(lookupCredential(kr, 'My_Key', HTTP_INJECTION)).toBe('exact');
    expect(lookupCredential(kr, 'my_key', HTTP_INJECTION)).toBe(' lower\n');
  });

  it('injectCredential reads the keyring: nothing for types without a secret, { missing } naming an absent entry', () => {
    const reads = new Map<string, string | undefined>();
    const kr = new Keyring([['tok', 'secret-1']], 't').accessor(reads);
    const inject = (extra: Partial<ProviderFields>) =>
      injectCredential(authSettings(fields(extra), HTTP_INJECTION), kr);
    expect(inject({ auth_type: 'bearer', auth_key_name: 'tok' })).toEqual({
      header: { name: 'authorization', value: 'Bearer secret-1' },
      secrets: ['secret-1'],
    });
    expect(inject({ auth_type: 'header', auth_key_name: 'absent' })).toEqual({ missing: 'absent' });
    expect(inject({ auth_type: 'oauth2', auth_key_name: 'tok' })).toBeUndefined();
    expect(inject({ auth_type: 'none', auth_key_name: 'tok' })).toBeUndefined();
    // Reads go through the accessor, so the host sees them for its reuse decision.
    expect([...reads.keys()]).toEqual(['tok', 'absent']);
  });
});
