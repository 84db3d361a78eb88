/**
 * The `mcp` handler plugin (plugins/mcp/README.md): the proxy as an MCP
 * client of a stdio child process or a Streamable HTTP server.
 *
 * provision: resolve the target (keyring reads recorded) → open one session →
 * discover the tools within `mcp_discovery_timeout_secs`. A discovery that fails
 * leaves the provider with its hand-written tools only, logs a WARN, and marks the
 * result not reusable so the next reload tries again. `--check` spawns and
 * connects nothing. The session (child process or HTTP session) lives as long as
 * the provider: a reload that keeps the manifest and the keyring entries reuses it.
 */
import { AtiError, injectedSecretMatcher, sha256, toAtiError } from '../../sdk/plugin.js';
import {
  definePlugin,
  PLUGIN_API_VERSION,
  type HandlerPlugin,
  type ProviderManifest,
  type Provisioned,
  type ToolDefinition,
} from '../../sdk/plugin.js';
import { toolFromManifest } from '../../sdk/plugin.js';
import { toToolResult } from './call-result.js';
import { discoveredToolDefinitions, listAllTools, upstreamName, type McpToolData } from './discovery.js';
import { createFederation, discoverFederation, sameTools, type Discovered } from './federation.js';
import { IGNORED_COMMON_FIELDS, mcpFields, providerSchema, validateMcpManifest } from './schema.js';
// The MCP SDK is loaded with the first mcp provider, not at process start (it costs ~0.3 s of startup).
import type { McpSession, RestartPolicy } from './session.js';
import type { StderrLimits } from './stderr-log.js';
import { resolveTarget, type McpTarget } from './target.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';

export type { McpSession } from './session.js';

/** Tuning that tests (and embedders) may change; manifests cannot. */
export interface McpPluginOptions {
  restart?: RestartPolicy;
  stderrLimits?: StderrLimits;
  /** Environment PATH and HOME are taken from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Called with each provisioned session (tests use it to look at pids and restarts). */
  onSession?: (provider: string, session: McpSession) => void;
}

export const MCP_PLUGIN_VERSION = '1.0.0';

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `/call` args → MCP `arguments`: an object; null or absent means `{}` (the reference turned anything else into `{}` too). */
function toArguments(args: unknown): Record<string, unknown> {
  if (args === undefined || args === null) return {};
  if (isPlainObject(args)) return args;
  throw new AtiError(
    'ATI_ERR_TOOL_ARGS',
    `arguments of an MCP tool must be a JSON object (got ${Array.isArray(args) ? 'an array' : typeof args})`,
  );
}

function handWrittenTools(m: ProviderManifest, prefix: string): ToolDefinition[] {
  return m.tools.map((t) => toolFromManifest(m, t, { mcpName: upstreamName(t.name, prefix) } satisfies McpToolData));
}

/** A provider whose session could not be set up: its tools fail with `error`. */
function unavailable(tools: ToolDefinition[], error: AtiError, reusable: boolean): Provisioned {
  return {
    tools,
    reusable,
    async call() {
      throw error;
    },
    async close() {},
  };
}

/** A session shared by the provisions of one provider across reloads; closed with the last of them. */
interface SharedSession {
  session: McpSession;
  refs: number;
}

/** Identity of what a session connects to: a provision adopts a handed-over session only for the same target. */
function targetKey(target: McpTarget): string {
  return target.kind === 'stdio'
    ? sha256(JSON.stringify([target.command, target.args, target.env]))
    : sha256(JSON.stringify([target.url.href, target.headers]));
}

export function createMcpPlugin(options: McpPluginOptions = {}): HandlerPlugin {
  /** Sessions a reload found with a changed tool list, waiting for the provider's next provision. */
  const handovers = new Map<string, { key: string; shared: SharedSession; tools: Tool[] }>();
  return definePlugin({
    apiVersion: PLUGIN_API_VERSION,
    name: 'mcp',
    version: MCP_PLUGIN_VERSION,
    providerSchema,
    ignoredCommonFields: IGNORED_COMMON_FIELDS,
    requiresTools: false,
    validate: validateMcpManifest,

    async provision(m, ctx): Promise<Provisioned> {
      const f = mcpFields(m);
      const log = ctx.logger;
      const manual = handWrittenTools(m, f.toolPrefix);

      if (ctx.options.checkOnly) {
        log.info({ transport: f.transport }, 'MCP discovery skipped (--check spawns and connects nothing)');
        return unavailable(
          manual,
          new AtiError('ATI_ERR_UNAVAILABLE', 'MCP providers are not connected in --check mode'),
          false,
        );
      }

      let resolved;
      try {
        resolved = resolveTarget(m, ctx.keyring, options.env);
      } catch (err) {
        const e = toAtiError(err, 'ATI_ERR_CONFIG');
        log.warn(
          { transport: f.transport, code: e.code, error: e.message },
          'MCP provider not started; it loads with no discovered tools',
        );
        // The keyring reads are recorded: adding the entry changes them and re-provisions.
        return unavailable(manual, e, true);
      }

      const redactor = injectedSecretMatcher(resolved.secrets);
      // A tools/list_changed notice makes the next rebuilding reload list the tools again
      // over the same session; a different list provisions the provider again, and that
      // provision adopts the running session (the child keeps its pid) with the new list.
      let toolsChanged = false;
      const key = targetKey(resolved.target);
      const handed = handovers.get(m.provider.name);
      handovers.delete(m.provider.name);
      let shared: SharedSession;
      if (handed && handed.key === key && !handed.shared.session.isClosed) {
        shared = handed.shared;
        shared.refs++;
      } else {
        const { McpSession, DEFAULT_RESTART } = await import('./session.js');
        const session = new McpSession({
          provider: m.provider.name,
          target: resolved.target,
          timeoutMs: f.timeoutMs,
          connectTimeoutMs: Math.max(f.discoveryTimeoutMs, f.timeoutMs),
          logger: log,
          redact: (text) => redactor.redact(text),
          restart: options.restart ?? DEFAULT_RESTART,
          ...(options.stderrLimits ? { stderrLimits: options.stderrLimits } : {}),
          restartCounter: ctx.metrics.counter('child_restarts_total', 'Restarts of stdio MCP server processes'),
        });
        shared = { session, refs: 1 };
      }
      const session = shared.session;
      session.onToolsChanged = () => {
        toolsChanged = true;
      };
      options.onSession?.(m.provider.name, session);
      const release = async () => {
        if (--shared.refs === 0) await session.close();
      };

      let found: Discovered | undefined;
      let discovered: ToolDefinition[] = [];
      const t0 = performance.now();
      try {
        const tools =
          handed?.shared === shared ? handed.tools : await listAllTools(session, f.discoveryTimeoutMs, log, ctx.signal);
        discovered = discoveredToolDefinitions(m, tools, new Set(manual.map((t) => t.name)), log, f.toolPrefix);
        found = await discoverFederation(session, tools, f, log, ctx.signal);
        log.info(
          {
            transport: f.transport,
            tools: discovered.length,
            resources: found.resources.length,
            resource_templates: found.resourceTemplates.length,
            prompts: found.prompts.length,
            duration_ms: Math.round(performance.now() - t0),
          },
          'MCP tools discovered',
        );
      } catch (err) {
        if (ctx.signal.aborted) {
          await release();
          throw err;
        }
        found = undefined;
        const e = toAtiError(err, 'ATI_ERR_UPSTREAM');
        log.warn(
          { transport: f.transport, error: e.message, timeout_ms: f.discoveryTimeoutMs },
          'MCP discovery failed; the provider loads with no discovered tools (the next reload retries)',
        );
        // Do not keep a half-working child around; hand-written tools reconnect on demand.
        await session.disconnect();
      }

      const provisioned: Provisioned = {
        tools: [...manual, ...discovered],
        // Not reusable after a failed discovery: the next reload discovers again.
        reusable: found !== undefined,
        async revalidate({ force, signal }) {
          if (!found) return false;
          // Nothing announced and nothing forced: the session and its lists are current.
          if (!toolsChanged && !force) return true;
          toolsChanged = false;
          // Listing again over the same session also re-initialises a session the server forgot.
          const tools = await listAllTools(session, f.discoveryTimeoutMs, log, signal);
          const same = sameTools(found.tools, tools);
          log.info({ unchanged: same, tools: tools.length }, 'MCP tools listed again for a reload');
          if (!same) handovers.set(m.provider.name, { key, shared, tools });
          return same;
        },
        async call(tool, args, cctx) {
          const mcpName = (tool.data as McpToolData | undefined)?.mcpName ?? upstreamName(tool.name, f.toolPrefix);
          const result = await session.callTool(mcpName, toArguments(args), {
            signal: cctx.signal,
            ...(cctx.mcp ? { channel: cctx.mcp } : {}),
          });
          return toToolResult(tool.name, result, redactor);
        },
        close: release,
      };
      if (found) provisioned.mcp = createFederation(session, found, redactor);
      return provisioned;
    },
  });
}

/** The built-in instance. */
export const mcpPlugin = createMcpPlugin();
