/**
 * The common manifest schema: the `[provider]` and `[[tools]]` fields every
 * handler shares (docs/manifests.md). Each handler plugin adds its own fields
 * (HandlerPlugin.providerSchema / toolSchema); the loader merges them.
 */
import { Type, type TProperties } from '@sinclair/typebox';

const StringMap = Type.Record(Type.String(), Type.String());

export const AUTH_TYPES = ['none', 'bearer', 'header', 'query', 'basic', 'oauth2', 'url'] as const;

/** `[provider.auth_generator]`. Shared by http, openapi, mcp and cli. */
export const AuthGeneratorSchema = Type.Object(
  {
    type: Type.Union([Type.Literal('command'), Type.Literal('script')]),
    command: Type.Optional(Type.String()),
    args: Type.Optional(Type.Array(Type.String())),
    interpreter: Type.Optional(Type.String()),
    script: Type.Optional(Type.String()),
    cache_ttl_secs: Type.Optional(Type.Integer({ minimum: 0 })),
    output_format: Type.Optional(Type.Union([Type.Literal('text'), Type.Literal('json')])),
    env: Type.Optional(StringMap),
    inject: Type.Optional(
      Type.Record(
        Type.String(),
        Type.Object({ type: Type.String(), name: Type.String() }, { additionalProperties: false }),
      ),
    ),
    timeout_secs: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);

export const CommonProviderFields = {
  name: Type.String({ minLength: 1, description: 'Provider id; tool-name prefix for discovered tools.' }),
  description: Type.String({ description: 'Free text.' }),
  handler: Type.Optional(Type.String({ default: 'http', description: 'Handler plugin name.' })),
  base_url: Type.Optional(Type.String({ default: '', description: 'Upstream root URL.' })),
  internal: Type.Optional(Type.Boolean({ default: false, description: 'Hide the tools from listings.' })),
  category: Type.Optional(Type.String()),
  skills: Type.Optional(Type.Array(Type.String(), { default: [] })),
  extra_headers: Type.Optional(StringMap),
  auth_type: Type.Optional(
    Type.Union(
      AUTH_TYPES.map((t) => Type.Literal(t)),
      { default: 'none' },
    ),
  ),
  auth_key_name: Type.Optional(Type.String()),
  auth_header_name: Type.Optional(Type.String()),
  auth_query_name: Type.Optional(Type.String()),
  auth_value_prefix: Type.Optional(Type.String()),
  auth_secret_name: Type.Optional(Type.String()),
  oauth2_token_url: Type.Optional(Type.String()),
  oauth2_basic_auth: Type.Optional(Type.Boolean({ default: false })),
  auth_generator: Type.Optional(AuthGeneratorSchema),
} satisfies TProperties;

/** Keys accepted under `[provider]` for compatibility but ignored (documented in docs/manifests.md). */
export const DEPRECATED_PROVIDER_KEYS: Readonly<Record<string, string>> = {
  tags: 'accepted for compatibility (the reference google-workspace manifest has it); it has no effect',
};

export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export const CommonToolFields = {
  name: Type.String({ minLength: 1 }),
  description: Type.String(),
  endpoint: Type.Optional(Type.String({ default: '' })),
  // The reference accepts `get`, `Get` and `GET`; the loader normalises case before validation.
  method: Type.Optional(
    Type.Union(
      METHODS.map((m) => Type.Literal(m)),
      { default: 'GET' },
    ),
  ),
  scope: Type.Optional(Type.String()),
  input_schema: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  response: Type.Optional(
    Type.Object(
      {
        extract: Type.Optional(Type.String()),
        format: Type.Optional(Type.Union(['markdown_table', 'json', 'text', 'raw'].map((f) => Type.Literal(f)))),
      },
      { additionalProperties: false },
    ),
  ),
  tags: Type.Optional(Type.Array(Type.String())),
  hint: Type.Optional(Type.String()),
  examples: Type.Optional(Type.Array(Type.String())),
} satisfies TProperties;
