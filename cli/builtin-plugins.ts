/**
 * The built-in handler plugins, registered exactly like third-party ones; a
 * new built-in handler is added to this list.
 */
import type { HandlerPlugin } from '../core/plugin/contract.js';
import { cliPlugin } from '../plugins/cli/index.js';
import { httpPlugin } from '../plugins/http/index.js';
import { mcpPlugin } from '../plugins/mcp/index.js';
import { openapiPlugin } from '../plugins/openapi/index.js';
import { passthroughPlugin } from '../plugins/passthrough/index.js';

export const BUILTIN_PLUGINS: HandlerPlugin[] = [httpPlugin, openapiPlugin, cliPlugin, mcpPlugin, passthroughPlugin];
