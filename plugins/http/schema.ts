/**
 * Manifest fields of the `http` handler beyond the common ones
 * (config/manifest-schema.ts): the request-engine settings shared with
 * `openapi`. `[[tools]]` use only the common tool fields; their `input_schema`
 * may carry the `x-ati-*` extensions (see README.md).
 */
import type { TProperties } from '@sinclair/typebox';
import { EngineProviderFields } from '../shared-http/provider-fields.js';

export const HttpProviderFields = { ...EngineProviderFields } satisfies TProperties;
