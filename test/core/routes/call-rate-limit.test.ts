/**
 * `/call` consults core/pipeline/rate-limit with the *resolved* tool name and turns its
 * error into the response (429 + Retry-After). The real limiter is tested on its own
 * (rate-limit.test.ts, call-rate-limit-e2e.test.ts); here a fake limits one tool.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { AtiError } from '../../../kernel/errors.js';
import { startUpstream, type RecordingUpstream } from '../../helpers/recording-upstream.js';
import { httpManifest, startToolHost, type ToolHost } from '../../helpers/tool-host.js';

const seen: Array<[string | undefined, string]> = [];
vi.mock('../../../core/pipeline/rate-limit.js', () => ({
  checkRateLimit: (caller: { sub: string } | undefined, tool: string) => {
    seen.push([caller?.sub, tool]);
    return tool === 'api:limited'
      ? new AtiError('ATI_ERR_RATE_LIMITED', "Rate limit exceeded for 'tool:api:*': 2/hour (limit: 2/hour)", {
          details: { retry_after_seconds: 1800 },
          headers: { 'Retry-After': '1800' },
        })
      : undefined;
  },
}));

describe('POST /call rate limiting hook', () => {
  let up: RecordingUpstream | undefined;
  let th: ToolHost | undefined;
  afterEach(async () => {
    await th?.close();
    await up?.close();
  });

  it('answers 429 with Retry-After, checks the resolved name, and never calls upstream', async () => {
    up = await startUpstream();
    th = await startToolHost({
      manifests: {
        api: httpManifest(
          'api',
          up.url,
          '',
          '[[tools]]\nname = "api:limited"\ndescription = "x"\n\n[[tools]]\nname = "api:free"\ndescription = "y"\n',
        ),
      },
    });
    const r = await th.call('api_limited', {}, { caller: { sub: 'agent-7', unrestricted: true } });
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('1800');
    expect(r.body).toEqual({
      result: null,
      error: "Rate limit exceeded for 'tool:api:*': 2/hour (limit: 2/hour)",
      code: 'ATI_ERR_RATE_LIMITED',
    });
    expect((await th.call('api:free', {}, { caller: { sub: 'agent-7', unrestricted: true } })).status).toBe(200);
    expect(seen).toEqual([
      ['agent-7', 'api:limited'],
      ['agent-7', 'api:free'],
    ]);
    expect(up.requests.map((q) => q.path)).toEqual(['/']);
  });
});
