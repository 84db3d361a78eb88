/**
 * Manifest fields of the `openapi` handler (ref-01 §2.6) plus the request-engine
 * settings it shares with `http`.
 */
import { Type, type Static, type TProperties } from '@sinclair/typebox';
import type { FieldsOf } from '../../sdk/plugin.js';
import { EngineProviderFields } from '../shared-http/provider-fields.js';

const Strings = Type.Array(Type.String());

/** `[provider.openapi_overrides.<operationId>]`: keys are bare operationIds (no provider prefix). */
export const OperationOverride = Type.Object(
  {
    hint: Type.Optional(Type.String()),
    tags: Type.Optional(Strings),
    examples: Type.Optional(Strings),
    description: Type.Optional(Type.String()),
    scope: Type.Optional(Type.String()),
    response_extract: Type.Optional(Type.String()),
    // The reference maps unknown formats to "text" rather than refusing them; so do we.
    response_format: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

export type OperationOverrideFields = Static<typeof OperationOverride>;

export const OpenApiProviderFields = {
  ...EngineProviderFields,
  openapi_spec: Type.Optional(
    Type.String({ description: 'Spec file (JSON or YAML): absolute, or relative to <ati_dir>/specs/.' }),
  ),
  openapi_include_tags: Type.Optional(Strings),
  openapi_exclude_tags: Type.Optional(Strings),
  openapi_include_operations: Type.Optional(Strings),
  openapi_exclude_operations: Type.Optional(Strings),
  openapi_max_operations: Type.Optional(Type.Integer({ minimum: 0 })),
  openapi_overrides: Type.Optional(Type.Record(Type.String(), OperationOverride)),
} satisfies TProperties;

/** The openapi fields of one provider, defaults applied. */
export interface OpenApiSettings {
  spec?: string;
  includeTags: string[];
  excludeTags: string[];
  includeOperations: string[];
  excludeOperations: string[];
  maxOperations?: number;
  overrides: Record<string, OperationOverrideFields>;
}

/** The openapi `[provider]` fields as written (absent = default). */
export type OpenApiFields = FieldsOf<typeof OpenApiProviderFields>;

export function openApiSettings(p: OpenApiFields): OpenApiSettings {
  const s: OpenApiSettings = {
    includeTags: p.openapi_include_tags ?? [],
    excludeTags: p.openapi_exclude_tags ?? [],
    includeOperations: p.openapi_include_operations ?? [],
    excludeOperations: p.openapi_exclude_operations ?? [],
    overrides: p.openapi_overrides ?? {},
  };
  if (p.openapi_spec !== undefined) s.spec = p.openapi_spec;
  if (p.openapi_max_operations !== undefined) s.maxOperations = p.openapi_max_operations;
  return s;
}
