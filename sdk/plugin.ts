/**
 * The public plugin API (`ati-proxy/plugin`). Everything a handler plugin may
 * use is exported from here and only from here; the built-in plugins import
 * nothing else from the core, which proves a third-party plugin can do what
 * they do. Breaking changes bump PLUGIN_API_VERSION.
 */
export {
  PLUGIN_API_VERSION,
  definePlugin,
  type HandlerPlugin,
  type PluginDefinition,
  type TypedPluginDefinition,
  type JsonSchemaFields,
  type SchemaFields,
  type FieldsOf,
  type Provisioned,
  type ProvisionContext,
  type CallContext,
  type CallerIdentity,
  type ToolDefinition,
  type ToolManifest,
  type ToolResult,
  type ProviderManifest,
  type ProviderFields,
  type AuthGeneratorFields,
  type KeyringAccessor,
  type HostOptions,
  type PassthroughRoute,
  type RouteRequestContext,
  type PluginIssue,
  type HttpMethod,
  type RateLimitRule,
  type UpstreamTimeouts,
  type McpToolContent,
  type McpToolFields,
  type McpCallChannel,
  type McpFederation,
  type McpListEntry,
  type McpPromptEntry,
  type PluginMetrics,
  type PluginCounter,
  ToolContentError,
} from '../core/plugin/contract.js';
export { AtiError, toAtiError, type ErrorCode } from '../kernel/errors.js';
export { sha256 } from '../kernel/hash.js';
export {
  errorJson,
  sendErrorResponse,
  writeSocketErrorResponse,
  type ErrorResponseOptions,
} from '../kernel/error-response.js';
export type { Logger } from '../kernel/logger.js';
export { toolFromManifest, defaultScope } from '../core/tools/tool-definition.js';
export { missingCredential } from '../config/keyring.js';
export { compileGlob, GlobSet, expandPathPattern, globToRegexSource } from '../kernel/glob.js';
export { percentEncode } from '../kernel/percent-encode.js';
export { jsonPathProblem } from '../core/tools/response-extract.js';
export {
  REDACTED,
  MIN_REDACT_LENGTH,
  MIN_INJECTED_SECRET_LENGTH,
  SecretMatcher,
  injectedSecretMatcher,
  redactUrl,
  type SecretMatcherOptions,
  type UrlRedactionOptions,
} from '../kernel/redact.js';
export {
  compileTemplate,
  expandTemplate,
  expandPlaceholders,
  templateProblem,
  LENIENT_TEMPLATE,
  type Template,
  type TemplatePart,
  type TemplateSyntax,
  type Expansion,
} from '../kernel/placeholders.js';
export {
  authSettings,
  placeCredential,
  lookupCredential,
  injectCredential,
  type AuthType,
  type AuthSettings,
  type InjectionStyle,
  type CredentialPlacement,
} from './credential-injection.js';
/** The version of the ati-proxy package this plugin runs in (for User-Agent strings and logs). */
export { VERSION as ATI_VERSION } from '../kernel/version.js';
export { AuthGeneratorSchema } from '../config/manifest-schema.js';
