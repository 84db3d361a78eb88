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
  type Provisioned,
  type ProvisionContext,
  type CallContext,
  type CallerIdentity,
  type ToolDefinition,
  type ToolManifest,
  type ToolResult,
  type ProviderManifest,
  type ProviderFields,
  type KeyringAccessor,
  type HostOptions,
  type PassthroughRoute,
  type RouteRequestContext,
  type PluginIssue,
  type HttpMethod,
} from '../core/plugin.js';
export { AtiError, type ErrorCode } from '../core/errors.js';
export type { Logger } from '../core/logger.js';
export { toolFromManifest, defaultScope } from '../core/tool-definition.js';
export { missingCredential } from '../core/keyring.js';
export { compileGlob, GlobSet, expandPathPattern } from '../core/glob.js';
export { AuthGeneratorSchema } from '../config/manifest-schema.js';
