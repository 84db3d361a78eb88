/**
 * The `[provider]` fields of `handler = "passthrough"` (ref-02 §1.2) plus the
 * ones we add (split timeouts, WebSocket limits). The common fields
 * (`base_url`, `auth_*`, `extra_headers`) come from config/manifest-schema.
 * Unknown keys are errors in the loader, so a misspelt `deny_paths` never
 * yields a silently open route.
 */
import { Type, type TProperties } from '@sinclair/typebox';
import type { FieldsOf, ProviderManifest } from '../../sdk/plugin.js';

/** setTimeout's ceiling (2^31-1 ms) in whole seconds. */
const MAX_SECONDS = 2_147_483;

/** Defaults of the numeric fields (ref-02 §1.2; the WebSocket ones are ours). */
export const DEFAULTS = {
  connect_timeout_seconds: 5,
  read_timeout_seconds: 300,
  idle_timeout_seconds: 60,
  max_request_bytes: 104_857_600,
  max_response_bytes: 524_288_000,
  /** The reference's library default (tungstenite max message size). */
  websocket_max_message_bytes: 67_108_864,
  websocket_idle_timeout_seconds: 0,
} as const;

const seconds = (description: string, dflt?: number) =>
  Type.Optional(
    Type.Integer({ minimum: 0, maximum: MAX_SECONDS, description, ...(dflt === undefined ? {} : { default: dflt }) }),
  );
const bytes = (description: string, dflt: number) =>
  Type.Optional(Type.Integer({ minimum: 0, default: dflt, description }));

export const passthroughProviderSchema = {
  host_match: Type.Optional(
    Type.String({ description: 'Claim requests whose Host (port removed) equals this, case-insensitive.' }),
  ),
  path_prefix: Type.Optional(
    Type.String({ description: 'Claim requests whose path is this prefix on a segment boundary.' }),
  ),
  strip_prefix: Type.Optional(Type.Boolean({ default: true, description: 'Remove path_prefix before forwarding.' })),
  path_replace: Type.Optional(
    Type.Array(Type.String(), { description: '[from, to]: replace a leading `from` by `to` after stripping.' }),
  ),
  host_override: Type.Optional(Type.String({ description: 'Upstream Host header (TLS SNI still follows base_url).' })),
  forward_websockets: Type.Optional(
    Type.Boolean({ default: false, description: 'Relay WebSocket upgrades on this route.' }),
  ),
  deny_paths: Type.Optional(Type.Array(Type.String(), { description: 'Globs over the upstream path answered 403.' })),
  forward_authorization_paths: Type.Optional(
    Type.Array(Type.String(), { description: "Globs over the upstream path that keep the caller's Authorization." }),
  ),
  connect_timeout_seconds: seconds(
    'TCP+TLS connect timeout (also bounds the WebSocket upstream handshake); 0 = none.',
    DEFAULTS.connect_timeout_seconds,
  ),
  read_timeout_seconds: seconds(
    'Default of response_header_timeout_seconds and read_idle_timeout_seconds.',
    DEFAULTS.read_timeout_seconds,
  ),
  response_header_timeout_seconds: seconds('Time allowed for the upstream response headers; 0 = none.'),
  read_idle_timeout_seconds: seconds('Longest silence while reading the upstream response body; 0 = none.'),
  idle_timeout_seconds: seconds(
    'How long an idle upstream keep-alive connection is kept; 0 = no keep-alive.',
    DEFAULTS.idle_timeout_seconds,
  ),
  max_request_bytes: bytes('Request body cap (413 above it); 0 = unlimited.', DEFAULTS.max_request_bytes),
  max_response_bytes: bytes('Response body cap (502 / cut above it); 0 = unlimited.', DEFAULTS.max_response_bytes),
  websocket_max_message_bytes: bytes(
    'Largest WebSocket message relayed in either direction (close 1009 above it).',
    DEFAULTS.websocket_max_message_bytes,
  ),
  websocket_idle_timeout_seconds: seconds(
    'Close a WebSocket with no message in either direction for this long; 0 = never.',
    DEFAULTS.websocket_idle_timeout_seconds,
  ),
} satisfies TProperties;

/** A manifest of `handler = "passthrough"`, its route fields typed as the schema declares them. */
export type PassthroughManifest = ProviderManifest<FieldsOf<typeof passthroughProviderSchema>>;

/** Common provider fields that have no effect on a passthrough route (listed by `--check`). */
export const IGNORED_COMMON_FIELDS = [
  'internal',
  'category',
  'skills',
  'auth_secret_name',
  'oauth2_token_url',
  'oauth2_basic_auth',
  'auth_generator',
] as const;
