/**
 * `GET /tools` and `GET /tools/{name}` (ref-01 §12.4–12.5), filtered by the
 * caller's scopes. Methods are upper-case (`"GET"`; the reference prints
 * `"Get"`). A tool hidden by scope answers 404 exactly like an unknown one.
 */
import { AtiError } from '../../kernel/errors.js';
import type { RouteModule } from '../host/host.js';
import type { ToolDefinition } from '../plugin/contract.js';
import { stateOf } from '../host/request-state.js';
import { toolAllowed } from '../pipeline/scopes.js';
import { skillRegistryOf } from '../skills/extension.js';

function matchesSearch(t: ToolDefinition, needle: string): boolean {
  return (
    t.name.toLowerCase().includes(needle) ||
    t.description.toLowerCase().includes(needle) ||
    t.tags.some((tag) => tag.toLowerCase().includes(needle))
  );
}

export const toolsRoutes: RouteModule = (app) => {
  app.get<{ Querystring: { provider?: string; search?: string } }>('/tools', async (request) => {
    const state = stateOf(request);
    const { provider, search } = request.query;
    const needle = search?.toLowerCase();
    return state.gen
      .publicTools()
      .filter((t) => toolAllowed(state.caller, t, state.authConfigured))
      .filter((t) => provider === undefined || t.provider === provider)
      .filter((t) => needle === undefined || matchesSearch(t, needle))
      .map((t) => ({
        name: t.name,
        description: t.description,
        provider: t.provider,
        method: t.method,
        tags: t.tags,
        skills: t.skills,
        input_schema: t.inputSchema,
      }));
  });

  app.get<{ Params: { name: string } }>('/tools/:name', async (request) => {
    const state = stateOf(request);
    const name = request.params.name;
    const t = state.gen.tools.get(name);
    if (!t || !toolAllowed(state.caller, t, state.authConfigured)) {
      throw new AtiError('ATI_ERR_UNKNOWN_TOOL', `Tool '${name}' not found`);
    }
    const skills = new Set(t.skills);
    for (const s of skillRegistryOf(state.gen).skillsForTool(t.name, t.provider)) skills.add(s);
    return {
      name: t.name,
      description: t.description,
      provider: t.provider,
      method: t.method,
      endpoint: t.endpoint,
      tags: t.tags,
      hint: t.hint,
      skills: [...skills],
      input_schema: t.inputSchema,
      scope: t.scope,
    };
  });
};
