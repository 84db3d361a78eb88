/**
 * `[provider]` fields of the request engine shared by the `http` and `openapi`
 * handlers (beyond the common fields of config/manifest-schema.ts). None exists
 * in the reference; all are optional with defaults that match its behaviour
 * closely (a 60 s call timeout).
 */
import { Type, type TProperties } from '@sinclair/typebox';
import type { FieldsOf } from '../../sdk/plugin.js';

export const DEFAULT_TIMEOUT_SECONDS = 60;
export const DEFAULT_CONNECT_TIMEOUT_SECONDS = 10;
export const DEFAULT_MAX_RESPONSE_BYTES = 50 * 1024 * 1024;

export const EngineProviderFields = {
  timeout_seconds: Type.Optional(
    Type.Integer({
      minimum: 0,
      default: DEFAULT_TIMEOUT_SECONDS,
      description:
        'Time allowed for the response headers, and again for reading the whole body (per request, redirects included); 0 disables it. Timeouts answer 504.',
    }),
  ),
  connect_timeout_seconds: Type.Optional(
    Type.Integer({
      minimum: 0,
      default: DEFAULT_CONNECT_TIMEOUT_SECONDS,
      description: 'TCP/TLS connect timeout; 0 disables it.',
    }),
  ),
  max_response_bytes: Type.Optional(
    Type.Integer({
      minimum: 0,
      default: DEFAULT_MAX_RESPONSE_BYTES,
      description: 'Largest upstream body read into a result; larger answers 502. 0 = unlimited.',
    }),
  ),
} satisfies TProperties;

/** The engine settings of one provider, defaults applied. */
export interface EngineSettings {
  timeoutSeconds: number;
  connectTimeoutSeconds: number;
  maxResponseBytes: number;
}

/** The engine's `[provider]` fields as written (absent = default). */
export type EngineFields = FieldsOf<typeof EngineProviderFields>;

export function engineSettings(provider: EngineFields): EngineSettings {
  return {
    timeoutSeconds: provider.timeout_seconds ?? DEFAULT_TIMEOUT_SECONDS,
    connectTimeoutSeconds: provider.connect_timeout_seconds ?? DEFAULT_CONNECT_TIMEOUT_SECONDS,
    maxResponseBytes: provider.max_response_bytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  };
}
