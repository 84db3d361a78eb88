/**
 * `POST /help` (docs/tool-calls.md#post-help): `{"query": string, "tool"?: string}` →
 * `{"content": string}` or `{"content": "", "error": "…", "code": "…"}`. Builds a
 * prompt from the tools the caller may use and asks the internal `_llm`
 * provider's `_chat_completion` tool, called through its own plugin (so its
 * auth, `extra_headers` and timeout apply; the reference ignores them).
 *
 * Differences from the reference (docs/reference-compat.md#scopes-and-expiry): the `help`
 * scope is required when auth is configured; the request has the provider's
 * timeout; the model is `zai-glm-4.7` unless the tool's input schema gives
 * `properties.model.default`; the body is capped at 1 MiB.
 */
import { localSkillsHelpBody } from '../skills/help-context.js';
import type { FastifyReply } from 'fastify';
import { AtiError } from '../../kernel/errors.js';
import { buildHelpPrompt, type HelpFocus } from './help-prompt.js';
import type { RouteModule } from '../host/host.js';
import { callStatusOf } from '../tools/call-log.js';
import type { ToolDefinition } from '../plugin/contract.js';
import { stateOf } from '../host/request-state.js';
import { scopeAllowed, toolAllowed } from '../pipeline/scopes.js';
import { AUTH_REQUIRED_MESSAGE, DEV_CALLER, dispatchTool } from '../tools/tool-call.js';
import { clientSignal } from './call.js';

export const HELP_TOOL = '_chat_completion';
export const HELP_SCOPE = 'help';
export const DEFAULT_HELP_MODEL = 'zai-glm-4.7';
export const HELP_BODY_LIMIT = 1024 * 1024;
export const NO_LLM_MESSAGE = 'No _llm.toml manifest found. Proxy help requires a configured LLM provider.';

interface HelpBody {
  query: string;
  tool?: string;
}

function send(reply: FastifyReply, e: AtiError): FastifyReply {
  return reply.code(e.status).type('application/json').send({ content: '', error: e.message, code: e.code });
}

function hasModelDefault(tool: ToolDefinition): boolean {
  const props = tool.inputSchema?.['properties'] as Record<string, { default?: unknown }> | undefined;
  return props?.['model']?.default !== undefined;
}

/** Maps a failed LLM call to the reference's /help errors. */
function llmError(e: AtiError): AtiError {
  const upstream = e.details?.['upstream_error'];
  const status = e.details?.['upstream_status'];
  switch (e.code) {
    case 'ATI_ERR_MISSING_CREDENTIAL':
      return new AtiError('ATI_ERR_UNAVAILABLE', `LLM API key not found in keyring: ${e.message}`);
    case 'ATI_ERR_UPSTREAM':
      return typeof status === 'number'
        ? new AtiError(
            'ATI_ERR_UPSTREAM',
            `LLM API error (${status}): ${String(upstream ?? e.message).replace(/^API error \(\d+\): /, '')}`,
          )
        : new AtiError('ATI_ERR_UPSTREAM', `LLM request failed: ${String(upstream ?? e.message)}`);
    case 'ATI_ERR_UPSTREAM_TIMEOUT':
      return new AtiError('ATI_ERR_UPSTREAM_TIMEOUT', `LLM request failed: ${String(upstream ?? e.message)}`);
    default:
      return e;
  }
}

export const helpRoutes: RouteModule = (app, host) => {
  app.post<{ Body: HelpBody }>(
    '/help',
    {
      bodyLimit: HELP_BODY_LIMIT,
      schema: {
        body: {
          type: 'object',
          required: ['query'],
          properties: { query: { type: 'string' }, tool: { type: 'string' } },
        },
      },
      preValidation: async (request) => {
        const ct = (request.headers['content-type'] ?? '').toLowerCase();
        if (!ct.startsWith('application/json')) {
          throw new AtiError(
            'ATI_ERR_UNSUPPORTED_MEDIA_TYPE',
            'Expected request with `Content-Type: application/json`',
          );
        }
      },
    },
    async (request, reply) => {
      const t0 = performance.now();
      const state = stateOf(request);
      const caller = state.caller;
      const finish = (status: number, extra: Record<string, unknown> = {}, error?: AtiError) => {
        const latency = Math.round((performance.now() - t0) * 1000) / 1000;
        host.logger[status >= 500 ? 'warn' : 'info'](
          {
            request_id: state.requestId,
            endpoint: 'help',
            tool: HELP_TOOL,
            sub: caller?.sub ?? (state.authConfigured ? null : DEV_CALLER.sub),
            status,
            latency_ms: latency,
            ...extra,
          },
          'help call',
        );
        // One call-log row per /help, denials included.
        const llmTool = state.gen.tools.get(HELP_TOOL);
        const upstream = extra['upstream_status'];
        host.services.callLog.record({
          endpoint: 'help',
          tool: HELP_TOOL,
          provider: llmTool?.provider ?? null,
          handler: llmTool?.handler ?? null,
          caller,
          args:
            request.body.tool !== undefined
              ? { query: request.body.query, tool: request.body.tool }
              : { query: request.body.query },
          status: error ? callStatusOf(error) : 'success',
          durationMs: latency,
          error: error?.message ?? null,
          errorClass: error?.code ?? null,
          upstreamStatus: typeof upstream === 'number' ? upstream : null,
          requestId: state.requestId,
          requesterIp: request.ip,
          userAgent: request.headers['user-agent'] ?? null,
        });
      };
      const fail = (e: AtiError, extra: Record<string, unknown> = {}) => {
        finish(e.status, { code: e.code, error: e.message, ...extra }, e);
        return send(reply, e);
      };

      if (state.authConfigured && !caller) return fail(new AtiError('ATI_ERR_FORBIDDEN', AUTH_REQUIRED_MESSAGE));
      if (caller && !caller.unrestricted && !scopeAllowed(caller.scopes, HELP_SCOPE)) {
        return fail(new AtiError('ATI_ERR_FORBIDDEN', `Access denied: '${HELP_SCOPE}' is not in your scopes`));
      }
      const gen = state.gen;
      const llm = gen.tools.get(HELP_TOOL);
      if (!llm) return fail(new AtiError('ATI_ERR_UNAVAILABLE', NO_LLM_MESSAGE));

      const visible = gen.publicTools().filter((t) => toolAllowed(caller, t));
      let focus: HelpFocus | undefined;
      const wanted = request.body.tool;
      if (wanted !== undefined && wanted !== '') {
        const tool = visible.find((t) => t.name === wanted);
        const ofProvider = tool ? [] : visible.filter((t) => t.provider === wanted);
        if (tool) focus = { kind: 'tool', tool };
        else if (ofProvider.length > 0) focus = { kind: 'provider', provider: wanted, tools: ofProvider };
        else return fail(new AtiError('ATI_ERR_FORBIDDEN', `Scope '${wanted}' is not visible in your current scopes.`));
      }
      const skills = localSkillsHelpBody(gen, caller);
      const prompt = buildHelpPrompt(visible, focus, skills);

      const args: Record<string, unknown> = {
        messages: [
          { role: 'system', content: prompt },
          { role: 'user', content: request.body.query },
        ],
        max_completion_tokens: 1536,
        temperature: 0.3,
      };
      if (!hasModelDefault(llm)) args['model'] = DEFAULT_HELP_MODEL;

      let value: unknown;
      let upstreamStatus: number | undefined;
      try {
        const r = await dispatchTool(gen, llm, args, {
          requestId: state.requestId,
          caller: caller ?? DEV_CALLER,
          signal: clientSignal(reply),
          logger: host.logger,
          requestedName: HELP_TOOL,
          endpoint: 'help',
        });
        value = r.value;
        upstreamStatus = r.upstreamStatus;
      } catch (err) {
        const e = err as AtiError;
        return fail(llmError(e), { upstream_status: e.details?.['upstream_status'] ?? null });
      }
      if (typeof value !== 'object' || value === null) {
        return fail(new AtiError('ATI_ERR_INTERNAL', 'Failed to parse LLM response: the answer is not a JSON object'), {
          upstream_status: upstreamStatus ?? null,
        });
      }
      const content = (value as { choices?: Array<{ message?: { content?: unknown } }> }).choices?.[0]?.message
        ?.content;
      finish(200, { upstream_status: upstreamStatus ?? null });
      return reply
        .code(200)
        .type('application/json')
        .send({ content: typeof content === 'string' ? content : 'No response from LLM' });
    },
  );
};
