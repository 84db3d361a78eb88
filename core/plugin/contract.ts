/**
 * The handler-plugin contract. A handler plugin turns one provider manifest
 * (`handler = "<name>"`) into tools and/or passthrough routes. The host calls
 * `provision` while it builds a generation, keeps the returned `Provisioned`
 * for as long as some serving generation uses it, and calls `close` when the
 * last one retires. Built-in plugins use exactly this contract.
 *
 * Lifecycle (Caddy-style): decode (schema) → validate → provision → serve → close.
 * A failing `provision` fails only the candidate generation; the host closes
 * whatever the candidate had already provisioned (rollback).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Static, TObject, TProperties } from '@sinclair/typebox';
import type { Pool } from 'undici';
import type { Logger } from '../../kernel/logger.js';
import { AtiError } from '../../kernel/errors.js';
import type { KeyringAccessor } from '../../config/keyring.js';
import type {
  AuthGeneratorFields,
  HandlerSchema,
  HandlerSchemas,
  HttpMethod,
  PluginIssue,
  ProviderFields,
  ProviderManifest,
  ToolManifest,
} from '../../config/manifest-types.js';
import { propertiesFromJsonSchema } from './json-schema-to-typebox.js';

/** Bumped on a breaking change of this contract; plugins declare the version they target. */
export const PLUGIN_API_VERSION = 1;

export type {
  AuthGeneratorFields,
  HandlerSchema,
  HttpMethod,
  KeyringAccessor,
  PluginIssue,
  ProviderFields,
  ProviderManifest,
  ToolManifest,
};

/** What `/call`, `/tools` and `/mcp` expose. */
export interface ToolDefinition {
  name: string;
  description: string;
  /** Provider (manifest) name. */
  provider: string;
  handler: string;
  method: HttpMethod;
  endpoint: string;
  /** Scope required to see or call the tool; `null` or `""` = no scope needed (see core/pipeline/scopes.ts). */
  scope: string | null;
  inputSchema: Record<string, unknown> | null;
  tags: string[];
  hint: string | null;
  examples: string[];
  category: string | null;
  /** Tools of `internal = true` providers are hidden from listings but still callable with their scope. */
  internal: boolean;
  /** Skills named by the provider manifest. */
  skills: string[];
  responseExtract?: string;
  responseFormat?: string;
  /** Plugin-private data (a compiled request plan, the upstream MCP tool name, …). */
  data?: unknown;
  /**
   * Fields of an MCP tool that `/mcp tools/list` passes through unchanged (`title`,
   * `annotations`, `outputSchema`, `execution`, `icons`, `_meta`), for tools that come
   * from an MCP server.
   */
  mcp?: McpToolFields;
}

/** The fields of an upstream MCP tool besides name, description and inputSchema. */
export interface McpToolFields {
  title?: string;
  annotations?: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  execution?: Record<string, unknown>;
  icons?: unknown[];
  _meta?: Record<string, unknown>;
}

/** Options of the running host that plugins may need. */
export interface HostOptions {
  atiDir: string;
  enablePassthrough: boolean;
  /** `--check`: validate and provision without spawning processes or opening connections. */
  checkOnly: boolean;
}

export interface ProvisionContext {
  readonly options: HostOptions;
  readonly atiDir: string;
  /** `<ati_dir>/specs`. */
  readonly specsDir: string;
  readonly keyring: KeyringAccessor;
  readonly logger: Logger;
  /** Aborted when the candidate generation is abandoned (reload superseded, shutdown). */
  readonly signal: AbortSignal;
  readonly generationId: number;
  /**
   * An undici connection pool for one upstream origin with split timeouts
   * (connect, response headers, idle body read; 0 disables one) and keep-alive.
   * The plugin owns it: close it in `close()`. Pools of a reused provider live
   * on across reloads.
   */
  createPool(origin: string, timeouts?: UpstreamTimeouts): Pool;
  /** Counters shown on `/metrics`, labelled with this provider's name (see PluginMetrics). */
  readonly metrics: PluginMetrics;
}

/** Counters a plugin exposes on the host's `/metrics`. */
export interface PluginMetrics {
  /**
   * The counter `ati_<handler>_<name>` (a `-` in the handler name becomes `_`)
   * with one label, `provider`, set to the provider being provisioned. `name`
   * is lower-case letters, digits and `_`, ending in `_total`. Every provider
   * and every reload asking for the same name and help gets the same counter.
   */
  counter(name: string, help: string): PluginCounter;
}

export interface PluginCounter {
  /** Adds `by` (default 1) to this provider's series. */
  inc(by?: number): void;
}

/**
 * Upstream timeouts in milliseconds. `0` disables a timeout; there is no total
 * deadline, so long streams keep going while bytes flow.
 */
export interface UpstreamTimeouts {
  /** TCP (and TLS) connect. */
  connectMs?: number;
  /** From the request sent to the response headers. */
  headersMs?: number;
  /** Longest silence between two body chunks. */
  bodyIdleMs?: number;
  /** How long an idle connection is kept for the next request; `0` = no keep-alive (one connection per request). */
  keepAliveMs?: number;
}

/** Who is calling, as established by the request pipeline. */
export interface CallerIdentity {
  /** JWT `sub`, `dev` in dev mode, or `key:<hash prefix>` for virtual keys. */
  sub: string;
  scopes: readonly string[];
  /** Unrestricted (dev mode or a `*` scope). */
  unrestricted: boolean;
  claims?: Record<string, unknown>;
  keyHash?: string;
  jobId?: string;
  sandboxId?: string;
  /**
   * Unix seconds after which the grant is void (JWT `exp` plus the validation
   * leeway, or a virtual key's expiry); absent = never. Scope checks use it, so
   * validation and scopes share one notion of expiry.
   */
  validUntil?: number;
  /** Per-caller limits (`ati.rate` of the token), enforced by core/pipeline/rate-limit.ts. */
  rateLimits?: readonly RateLimitRule[];
}

/** One `ati.rate` entry: at most `limit` calls of tools matching `pattern` per sliding `windowSeconds`. */
export interface RateLimitRule {
  /** Scope-style pattern matched against `tool:<requested name>` (trailing `*` = prefix). */
  pattern: string;
  limit: number;
  windowSeconds: number;
}

export interface CallContext {
  readonly requestId: string;
  readonly caller: CallerIdentity;
  /** Aborted when the client goes away or the call's deadline passes. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** The keyring of the generation this request runs on. */
  readonly keyring: KeyringAccessor;
  /** The name the client asked for (before alias resolution). */
  readonly requestedName: string;
  /** `call`, `mcp` or `help`: which endpoint is calling. */
  readonly endpoint: 'call' | 'mcp' | 'help' | 'cli';
  /** `/call`'s deprecated `raw_args` (strings), when the client sent them; the cli handler prefers them over `args`. */
  readonly rawArgs?: readonly string[];
  /** Set on `/mcp` calls: how a plugin that speaks MCP upstream relays progress, logs and requests to the client. */
  readonly mcp?: McpCallChannel;
}

/**
 * What a call from an MCP client (`/mcp`) may send back to that client while it
 * runs. The host routes each message to the client's request stream or session.
 */
export interface McpCallChannel {
  /** The client asked for progress notifications (`_meta.progressToken`). */
  readonly wantsProgress: boolean;
  /** Relays a progress notification (the host puts in the client's own token). */
  progress(p: { progress: number; total?: number; message?: string }): void;
  /** Relays a notification about this call (`notifications/message`) with its params unchanged. */
  notify(method: string, params: Record<string, unknown>): void;
  /**
   * Relays a request of the upstream to the client (`sampling/createMessage`,
   * `elicitation/create`) and resolves with the client's result; rejects with an
   * AtiError when the client cannot take it (no session, capability not declared).
   */
  request(method: string, params: Record<string, unknown>, signal: AbortSignal): Promise<Record<string, unknown>>;
}

/** An entry an MCP server lists (resource, resource template, prompt): its fields as sent. */
export type McpListEntry = Record<string, unknown>;

/** A prompt of an upstream MCP server: `name` is the exposed name, `upstreamName` the server's. */
export interface McpPromptEntry {
  name: string;
  upstreamName: string;
  /** The server's fields (title, description, arguments, icons …) except the name. */
  fields: McpListEntry;
}

/**
 * Resources, prompts, completions and logging of a provider that is an MCP
 * server, for `/mcp` to federate (tools go through `tools`/`call` as usual).
 * Lists are discovered when the generation is built, like tools.
 */
export interface McpFederation {
  /** What the server offers besides tools, from its `initialize` answer. */
  readonly capabilities: {
    resources?: { subscribe?: boolean };
    prompts?: Record<string, unknown>;
    completions?: Record<string, unknown>;
    logging?: Record<string, unknown>;
  };
  readonly resources: readonly McpListEntry[];
  readonly resourceTemplates: readonly McpListEntry[];
  readonly prompts: readonly McpPromptEntry[];
  /**
   * Sends one request to the server (`resources/read`, `prompts/get` with the
   * upstream name, `completion/complete`, `logging/setLevel`) and resolves with its raw result.
   */
  request(
    method: string,
    params: Record<string, unknown>,
    ctx: { signal: AbortSignal; mcp?: McpCallChannel },
  ): Promise<Record<string, unknown>>;
  /**
   * Subscribes to updates of `uri` (one upstream subscription per URI however many
   * listeners); resolves with the function that removes this listener.
   */
  subscribe(uri: string, onUpdated: (params: Record<string, unknown>) => void): Promise<() => Promise<void>>;
}

export interface ToolResult {
  /** JSON value returned to the caller as `result`. */
  value: unknown;
  /** Upstream HTTP status where there is one (for logs and audit). */
  upstreamStatus?: number;
  /**
   * The value is final: the host must not apply the tool's `response.extract`
   * to it (the http handler's "no records" answer `{"records":[]}`, which the
   * reference also returns unextracted).
   */
  skipExtraction?: boolean;
  /**
   * The result in MCP form, when the upstream speaks MCP: `/mcp tools/call` forwards it
   * unchanged (content blocks, structured content) instead of flattening `value` to text.
   */
  mcp?: McpToolContent;
}

/** An MCP `tools/call` result body (content blocks as the upstream sent them). */
export interface McpToolContent {
  content: unknown[];
  structuredContent?: Record<string, unknown>;
  /** As the upstream sent it (absent when it sent none). */
  isError?: boolean;
  _meta?: Record<string, unknown>;
}

/**
 * A tool call that the upstream answered with an error result (MCP `isError: true`).
 * It is an error for `/call` (502 with the text); `/mcp tools/call` forwards `mcp`
 * as a result with `isError: true`.
 */
export class ToolContentError extends AtiError {
  readonly mcp: McpToolContent;
  constructor(message: string, mcp: McpToolContent) {
    super('ATI_ERR_UPSTREAM', message);
    this.name = 'ToolContentError';
    this.mcp = mcp;
  }
}

/** What the host knows about a passthrough request when it hands it to a route. */
export interface RouteRequestContext {
  readonly requestId: string;
  /** Canonical path (no query). */
  readonly path: string;
  /** Raw query string without `?`, or "". */
  readonly query: string;
  readonly logger: Logger;
  /**
   * Headers the pipeline adds to the response (e.g. `X-Signature-Status` in warn mode).
   * Set on WebSocket upgrades, where the route writes the response itself; on plain
   * requests the host has already set them on the ServerResponse.
   */
  readonly responseHeaders?: ReadonlyArray<readonly [string, string]>;
}

/** A raw HTTP (and optionally WebSocket) route provided by a plugin (passthrough). */
export interface PassthroughRoute {
  /** Provider name; also the metrics label. */
  readonly name: string;
  /** Lower-cased host to match (port stripped), or null for any host. */
  readonly hostMatch: string | null;
  /** Path prefix without trailing slash (except `/`). */
  readonly pathPrefix: string;
  readonly forwardWebsockets: boolean;
  /** Identity of the route's inputs; equal keys mean the route can be kept across generations. */
  readonly reuseKey?: string;
  handle(req: IncomingMessage, res: ServerResponse, ctx: RouteRequestContext): void | Promise<void>;
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: RouteRequestContext): void | Promise<void>;
}

export interface Provisioned {
  tools: ToolDefinition[];
  routes?: PassthroughRoute[];
  /** Runs one tool call. Required when `tools` is not empty. */
  call?(tool: ToolDefinition, args: unknown, ctx: CallContext): Promise<ToolResult>;
  /** Releases pools, sessions and child processes. Must not throw; may be abandoned after a deadline. */
  close(): Promise<void>;
  /**
   * Files other than the manifest that provisioning read (an OpenAPI spec …),
   * absolute path → sha256 hex of the bytes read. The host re-provisions the
   * provider when one of them changes, and counts them in reload change detection.
   */
  inputFiles?: ReadonlyMap<string, string>;
  /**
   * `false` when this result should not be kept by the next reload even if the manifest and the
   * keyring entries it read are unchanged (e.g. MCP discovery failed: the next reload retries it).
   * Absent = reusable.
   */
  reusable?: boolean;
  /**
   * Asked by a rebuilding reload before it reuses this result for an unchanged manifest:
   * resolve `false` to be provisioned again (e.g. the MCP server's tool list changed).
   * `force` is set for `POST /admin/reload?force=true`. Errors count as `false`.
   */
  revalidate?(opts: { force: boolean; signal: AbortSignal }): Promise<boolean>;
  /** Set by providers that are MCP servers: their resources, prompts, completions and logging. */
  mcp?: McpFederation;
}

/** A handler plugin: the manifest fields it accepts (HandlerSchema) and how it provisions a provider. */
export interface HandlerPlugin extends HandlerSchema {
  /** Contract version this plugin was built for (PLUGIN_API_VERSION). */
  readonly apiVersion: number;
  /** The plugin's own version; part of the reuse key. */
  readonly version: string;
  provision(manifest: ProviderManifest, ctx: ProvisionContext): Promise<Provisioned>;
}

/**
 * Manifest fields declared as plain JSON Schema, one schema per field (for
 * plugins written without TypeBox). `required: true` on a field makes it
 * mandatory. Converted to TypeBox once, at registration.
 */
export type JsonSchemaFields = Record<string, Record<string, unknown>>;

/** A handler's own manifest fields: TypeBox properties or plain JSON Schema. */
export type SchemaFields = TProperties | JsonSchemaFields;

/**
 * The type of the values of a handler's fields: `Static<>` of TypeBox
 * properties (optional fields become optional properties); nothing for plain
 * JSON Schema, whose fields stay `unknown` (declare their type with
 * `PluginDefinition<{ field: type }>` instead).
 */
export type FieldsOf<S> = [S] extends [TProperties] ? Static<TObject<S>> : object;

/**
 * What a plugin module exports: a HandlerPlugin whose schemas may also be
 * plain JSON Schema. The registry normalises it into a HandlerPlugin.
 *
 * `P` and `T` type the handler's own `[provider]` and `[[tools]]` fields in the
 * manifest `validate` and `provision` receive. `definePlugin` infers them from
 * TypeBox schemas; plain-JSON-Schema plugins may state them.
 */
export interface PluginDefinition<P extends object = object, T extends object = object> extends Omit<
  HandlerPlugin,
  'providerSchema' | 'toolSchema' | 'validate' | 'provision'
> {
  readonly providerSchema: SchemaFields;
  readonly toolSchema?: SchemaFields;
  /** Semantic checks after the schema passed; every problem is returned, none thrown. */
  validate?(manifest: ProviderManifest<P, T>): PluginIssue[];
  provision(manifest: ProviderManifest<P, T>, ctx: ProvisionContext): Promise<Provisioned>;
}

/** A PluginDefinition whose field types come from its own schemas. */
export type TypedPluginDefinition<PS extends SchemaFields, TS extends SchemaFields> = Omit<
  PluginDefinition<FieldsOf<PS>, FieldsOf<TS>>,
  'providerSchema' | 'toolSchema'
> & {
  readonly providerSchema: PS;
  readonly toolSchema?: TS;
};

/**
 * Identity helper that gives plugin authors type checking: with TypeBox
 * schemas, `manifest.provider` and each of `manifest.tools` in `validate` and
 * `provision` carry the declared fields' types (`Type.Optional(Type.String())`
 * reads as `string | undefined`), no casts needed.
 */
export function definePlugin<PS extends SchemaFields, TS extends SchemaFields = Record<never, never>>(
  plugin: TypedPluginDefinition<PS, TS>,
): TypedPluginDefinition<PS, TS> {
  return plugin;
}

/** The set of handler plugins known to the host. */
export class PluginRegistry implements HandlerSchemas {
  private readonly plugins = new Map<string, HandlerPlugin>();
  private readonly origins = new Map<string, string>();

  register(plugin: PluginDefinition, origin = 'built-in'): void {
    if (plugin.apiVersion !== PLUGIN_API_VERSION) {
      throw new AtiError(
        'ATI_ERR_CONFIG',
        `handler plugin "${plugin.name}" (${origin}) targets plugin API v${plugin.apiVersion}, this ati supports v${PLUGIN_API_VERSION}`,
      );
    }
    if (!/^[a-z][a-z0-9_-]*$/.test(plugin.name)) {
      throw new AtiError(
        'ATI_ERR_CONFIG',
        `handler plugin name "${plugin.name}" (${origin}) must match [a-z][a-z0-9_-]*`,
      );
    }
    if (this.plugins.has(plugin.name)) {
      throw new AtiError('ATI_ERR_CONFIG', `handler plugin "${plugin.name}" (${origin}) is already registered`);
    }
    // Plain JSON Schema fields (plugins written without TypeBox) are converted once, here.
    const { providerSchema, toolSchema, ...rest } = plugin;
    const normalized: HandlerPlugin = {
      ...rest,
      providerSchema: propertiesFromJsonSchema(providerSchema),
      ...(toolSchema ? { toolSchema: propertiesFromJsonSchema(toolSchema) } : {}),
    };
    Object.setPrototypeOf(normalized, Object.getPrototypeOf(plugin));
    this.plugins.set(plugin.name, normalized);
    this.origins.set(plugin.name, origin);
  }

  /** `[{name, version, origin}]`: `built-in` or the module specifier a plugin came from. */
  describe(): Array<{ name: string; version: string; origin: string }> {
    return this.names().map((n) => ({ name: n, version: this.plugins.get(n)!.version, origin: this.origins.get(n)! }));
  }

  get(name: string): HandlerPlugin | undefined {
    return this.plugins.get(name);
  }

  names(): string[] {
    return [...this.plugins.keys()].sort();
  }

  all(): HandlerPlugin[] {
    return [...this.plugins.values()];
  }
}
