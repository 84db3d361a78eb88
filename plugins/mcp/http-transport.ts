/**
 * The Streamable HTTP transport: the SDK's StreamableHTTPClientTransport (it
 * keeps the `Mcp-Session-Id`, sends `MCP-Protocol-Version`, and reads JSON or
 * SSE replies with a streaming parser) plus the provider's auth header and
 * `extra_headers`, and a hard deadline on every POST so a server that never
 * answers cannot keep a socket forever after the request timed out.
 */
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { HttpTarget } from './target.js';

/** Extra time a POST gets beyond the request timeout before its socket is aborted. */
const FETCH_GRACE_MS = 1_000;

/** A fetch that aborts POSTs (requests, notifications) after `timeoutMs`; the long-lived GET event stream is left alone. */
export function fetchWithDeadline(timeoutMs: number): FetchLike {
  return (url, init) => {
    if (init?.method !== 'POST' && init?.method !== 'DELETE') return fetch(url, init);
    const deadline = AbortSignal.timeout(timeoutMs + FETCH_GRACE_MS);
    const signal = init.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    return fetch(url, { ...init, signal });
  };
}

export function createHttpTransport(target: HttpTarget, timeoutMs: number): StreamableHTTPClientTransport {
  return new StreamableHTTPClientTransport(target.url, {
    requestInit: { headers: target.headers },
    fetch: fetchWithDeadline(timeoutMs),
    // The optional GET event stream: a few quick retries, then give up quietly (calls do not need it).
    reconnectionOptions: {
      initialReconnectionDelay: 1_000,
      maxReconnectionDelay: 30_000,
      reconnectionDelayGrowFactor: 2,
      maxRetries: 2,
    },
  });
}
