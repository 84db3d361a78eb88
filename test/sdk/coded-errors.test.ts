// Plugins without a runtime dependency on ati-proxy (or with their own copy of
// it) throw plain Errors carrying an ATI_ERR_* code; the host keeps the code.
import { describe, expect, it } from 'vitest';
import { AtiError, toAtiError } from '../../kernel/errors.js';

class ForeignError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

describe('toAtiError with errors from outside this copy of ati-proxy', () => {
  it('keeps a known code, the message and object details; the status comes from the table', () => {
    const e = toAtiError(
      new ForeignError('Upstream API error: GraphQL error: nope', 'ATI_ERR_UPSTREAM', { upstream_status: 200 }),
      'ATI_ERR_PLUGIN',
    );
    expect(e).toBeInstanceOf(AtiError);
    expect(e.code).toBe('ATI_ERR_UPSTREAM');
    expect(e.status).toBe(502);
    expect(e.message).toBe('Upstream API error: GraphQL error: nope');
    expect(e.details).toEqual({ upstream_status: 200 });
    expect(toAtiError(new ForeignError('slow', 'ATI_ERR_UPSTREAM_TIMEOUT')).status).toBe(504);
    expect(toAtiError(new ForeignError('bad args', 'ATI_ERR_TOOL_ARGS', 'not an object')).details).toBeUndefined();
  });

  it('falls back for unknown codes (system errors such as ECONNREFUSED) and non-errors', () => {
    expect(toAtiError(new ForeignError('connect ECONNREFUSED', 'ECONNREFUSED'), 'ATI_ERR_PLUGIN').code).toBe(
      'ATI_ERR_PLUGIN',
    );
    expect(toAtiError(new ForeignError('x', 'toString'), 'ATI_ERR_PLUGIN').code).toBe('ATI_ERR_PLUGIN');
    expect(toAtiError({ code: 'ATI_ERR_UPSTREAM', message: 'plain object' }, 'ATI_ERR_PLUGIN').code).toBe(
      'ATI_ERR_PLUGIN',
    );
  });
});
