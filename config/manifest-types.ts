/**
 * The shapes of a provider manifest once parsed and validated, and what the
 * manifest loader needs to know about a handler to validate its fields. The
 * plugin contract (core/plugin/contract.ts) builds on these; they live here
 * because they describe a file format, and config/ depends on nothing but the
 * kernel.
 */
import type { Static, TProperties } from '@sinclair/typebox';
import type { SourceLocation } from '../kernel/errors.js';
import type { AuthGeneratorSchema } from './manifest-schema.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** `[provider.auth_generator]` as validated by its schema. */
export type AuthGeneratorFields = Static<typeof AuthGeneratorSchema>;

/** Common `[provider]` fields (ref-01 §2.1–2.2), with defaults applied. Handler fields sit beside them. */
export interface ProviderFields {
  name: string;
  description: string;
  handler: string;
  base_url: string;
  internal: boolean;
  category?: string;
  skills: string[];
  extra_headers: Record<string, string>;
  auth_type: 'none' | 'bearer' | 'header' | 'query' | 'basic' | 'oauth2' | 'url';
  auth_key_name?: string;
  auth_header_name?: string;
  auth_query_name?: string;
  auth_value_prefix?: string;
  auth_secret_name?: string;
  oauth2_token_url?: string;
  oauth2_basic_auth: boolean;
  auth_generator?: AuthGeneratorFields;
  [handlerField: string]: unknown;
}

/** A `[[tools]]` table as written (ref-01 §3), with defaults applied. */
export interface ToolManifest {
  name: string;
  description: string;
  endpoint: string;
  method: HttpMethod;
  scope?: string;
  input_schema?: Record<string, unknown>;
  response?: { extract?: string; format?: string };
  tags: string[];
  hint?: string;
  examples: string[];
  [handlerField: string]: unknown;
}

/**
 * One parsed and validated manifest file. `P` and `T` are the types of the
 * handler's own `[provider]` and `[[tools]]` fields (what its schemas declare);
 * without them those fields are `unknown`, read by key.
 */
export interface ProviderManifest<P extends object = object, T extends object = object> {
  /** Absolute path of the TOML file. */
  readonly file: string;
  /** sha256 (hex) of the file's bytes; part of the reuse key. */
  readonly hash: string;
  readonly provider: ProviderFields & P;
  readonly tools: Array<ToolManifest & T>;
  /** Best-effort source location of a dotted field path (`provider.base_url`, `tools[1].method`). */
  locate(field: string): SourceLocation;
}

/** A semantic problem found by a plugin's `validate`. */
export interface PluginIssue {
  /** Dotted field path, e.g. `provider.path_prefix`. */
  field: string;
  message: string;
}

/** What the manifest loader validates a manifest against: one handler's fields and checks. */
export interface HandlerSchema {
  /** The manifest's `handler = "<name>"`. */
  readonly name: string;
  /** Handler-specific `[provider]` fields (TypeBox properties, all optional or with defaults). */
  readonly providerSchema: TProperties;
  /** Handler-specific `[[tools]]` fields. */
  readonly toolSchema?: TProperties;
  /** Provider fields of the common schema this handler does not use (listed in `--check` warnings). */
  readonly ignoredCommonFields?: readonly string[];
  /** `[[tools]]` required (true), optional (false). */
  readonly requiresTools?: boolean;
  /** Semantic checks after the schema passed; every problem is returned, none thrown. */
  validate?(manifest: ProviderManifest): PluginIssue[];
}

/** The handlers a manifest may name (the plugin registry is one). */
export interface HandlerSchemas {
  get(name: string): HandlerSchema | undefined;
  /** Handler names, sorted. */
  names(): string[];
  all(): HandlerSchema[];
}

/** Handlers the reference knows that this build deliberately does not ship. */
export const UNAVAILABLE_HANDLERS: Readonly<Record<string, string>> = {
  // The loader reports this at `provider.handler` with the file and line, so the operator sees which manifest to fix.
  file_manager:
    'the file_manager handler is not available in this build (out of scope for ati-proxy); remove this manifest or change its handler',
};
