/**
 * Local skill routes (docs/api.md#skills): `GET /skills`, `GET /skills/{name}`,
 * `GET /skills/{name}/bundle`, `POST /skills/bundle`, `POST /skills/resolve`.
 * Every answer is filtered by what the caller may see (core/skills/visibility);
 * a skill the caller may not see answers 404 exactly like an unknown one.
 * `GET /skills/resolve` and `GET /skills/bundle` answer 405 (static POST routes),
 * which is why those two names are reserved at load time.
 */
import type { FastifyRequest } from 'fastify';
import { AtiError } from '../../kernel/errors.js';
import type { RouteModule } from '../host/host.js';
import { stateOf, type RequestState } from '../host/request-state.js';
import { MAX_BATCH_BYTES, MAX_BUNDLE_BYTES, readBundle, type BundleFile } from '../skills/bundle.js';
import { skillRegistryOf } from '../skills/extension.js';
import { listReferences } from '../skills/references.js';
import type { SkillRegistry } from '../skills/registry.js';
import type { Skill } from '../skills/skill-manifest.js';
import { callerForScopes, resolveSkills, viewerOf, visibleSkillNames } from '../skills/visibility.js';

/** Most names one `POST /skills/bundle` may ask for. */
export const MAX_BUNDLE_BATCH = 50;

type Query = Record<string, string | string[] | undefined>;

/** First value of a query parameter (a repeated parameter keeps its first value). */
function param(q: Query, name: string): string | undefined {
  const v = q[name];
  return Array.isArray(v) ? v[0] : v;
}

function boolParam(q: Query, name: string): boolean {
  const v = param(q, name);
  if (v === undefined || v === 'false') return false;
  if (v === 'true') return true;
  throw new AtiError('ATI_ERR_BAD_REQUEST', `query parameter "${name}" must be true or false, got "${v}"`);
}

function notFound(name: string): AtiError {
  return new AtiError('ATI_ERR_UNKNOWN_SKILL', `Skill '${name}' not found`);
}

interface SkillsView {
  registry: SkillRegistry;
  visible: ReadonlySet<string> | 'all';
  state: RequestState;
}

function viewOf(state: RequestState): SkillsView {
  const registry = skillRegistryOf(state.gen);
  const viewer = viewerOf(state.caller, state.authConfigured);
  return { registry, state, visible: viewer.all ? 'all' : visibleSkillNames(registry, state.gen, viewer) };
}

const canSee = (v: SkillsView, name: string) => v.visible === 'all' || v.visible.has(name);

/** The visible skill called `name`, or the 404 every hidden or unknown name gets. */
function visibleSkill(v: SkillsView, name: string): Skill {
  const s = v.registry.get(name);
  if (!s || !canSee(v, name)) throw notFound(name);
  return s;
}

const summary = (s: Skill) => ({
  name: s.name,
  version: s.version,
  description: s.description,
  tools: s.tools,
  providers: s.providers,
  categories: s.categories,
  hint: s.hint,
});

const meta = (s: Skill) => ({
  name: s.name,
  version: s.version,
  description: s.description,
  author: s.author,
  tools: s.tools,
  providers: s.providers,
  categories: s.categories,
  keywords: s.keywords,
  hint: s.hint,
  depends_on: s.dependsOn,
  suggests: s.suggests,
  license: s.license,
  compatibility: s.compatibility,
  allowed_tools: s.allowedTools,
  format: s.format,
});

/**
 * The JSON object body, with the reference's JSON-extractor statuses: a
 * non-JSON Content-Type is 415 (Fastify would parse text/plain), a body of
 * the wrong shape 422.
 */
function objectBody(request: FastifyRequest): Record<string, unknown> {
  const type = request.headers['content-type']?.split(';')[0]!.trim().toLowerCase() ?? '';
  if (type !== 'application/json' && !/^application\/[^/]+\+json$/.test(type)) {
    throw new AtiError('ATI_ERR_UNSUPPORTED_MEDIA_TYPE', 'Expected request with `Content-Type: application/json`');
  }
  const body = request.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new AtiError('ATI_ERR_INVALID_REQUEST', 'Invalid request: the body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function stringList(body: Record<string, unknown>, field: string): string[] {
  const v = body[field];
  if (v === undefined)
    throw new AtiError('ATI_ERR_INVALID_REQUEST', `Invalid request: missing field "${field}" (an array of strings)`);
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) {
    throw new AtiError('ATI_ERR_INVALID_REQUEST', `Invalid request: "${field}" must be an array of strings`);
  }
  return v as string[];
}

export interface SkillsRouteLimits {
  /** Largest bundle of one skill (bytes). */
  maxBundleBytes: number;
  /** Largest sum over one `POST /skills/bundle` batch (bytes). */
  maxBatchBytes: number;
}

/** Route module factory; the limits are injectable for tests. */
export function createSkillsRoutes(
  limits: SkillsRouteLimits = { maxBundleBytes: MAX_BUNDLE_BYTES, maxBatchBytes: MAX_BATCH_BYTES },
): RouteModule {
  return (app, host) => {
    app.get<{ Querystring: Query }>('/skills', async (request) => {
      const v = viewOf(stateOf(request));
      const q = request.query;
      let list: readonly Skill[];
      // Only the first filter present applies: search > category > provider > tool (the reference's precedence).
      const search = param(q, 'search');
      const category = param(q, 'category');
      const provider = param(q, 'provider');
      const tool = param(q, 'tool');
      if (search !== undefined) list = v.registry.search(search);
      else if (category !== undefined) list = v.registry.forCategory(category);
      else if (provider !== undefined) list = v.registry.forProvider(provider);
      else if (tool !== undefined) list = v.registry.forTool(tool);
      else list = v.registry.skills; // sorted by name: stable output (the reference used directory order)
      return list.filter((s) => canSee(v, s.name)).map(summary);
    });

    app.get<{ Params: { name: string }; Querystring: Query }>('/skills/:name', async (request) => {
      const wantMeta = boolParam(request.query, 'meta');
      const wantRefs = boolParam(request.query, 'refs');
      const s = visibleSkill(viewOf(stateOf(request)), request.params.name);
      const body: Record<string, unknown> = wantMeta
        ? meta(s)
        : { name: s.name, version: s.version, description: s.description, content: s.content };
      if (wantRefs) {
        const refs = await listReferences(s);
        if (refs) body['references'] = refs;
      }
      return body;
    });

    app.get<{ Params: { name: string } }>('/skills/:name/bundle', async (request) => {
      const s = visibleSkill(viewOf(stateOf(request)), request.params.name);
      const bundle = await readBundle(s, host.logger, limits.maxBundleBytes);
      return { name: s.name, files: bundle.files };
    });

    app.post<{ Body: unknown }>('/skills/bundle', async (request) => {
      const names = stringList(objectBody(request), 'names');
      if (names.length > MAX_BUNDLE_BATCH) {
        throw new AtiError('ATI_ERR_BAD_REQUEST', `batch size ${names.length} exceeds limit of ${MAX_BUNDLE_BATCH}`);
      }
      const v = viewOf(stateOf(request));
      // Null prototype: names come from the client (`__proto__` must stay an ordinary key).
      const skills = Object.create(null) as Record<string, { files: Record<string, BundleFile> }>;
      const missing: string[] = [];
      let used = 0;
      for (const name of names) {
        if (Object.hasOwn(skills, name)) continue;
        const s = v.registry.get(name);
        if (!s || !canSee(v, name)) {
          missing.push(name);
          continue;
        }
        try {
          const bundle = await readBundle(s, host.logger, Math.min(limits.maxBundleBytes, limits.maxBatchBytes - used));
          used += bundle.bytes;
          skills[name] = { files: bundle.files };
        } catch (err) {
          host.logger.warn({ skill: name, error: (err as Error).message }, 'skill bundle not served');
          missing.push(name);
        }
      }
      return { skills, missing };
    });

    app.post<{ Body: unknown }>('/skills/resolve', async (request) => {
      const body = objectBody(request);
      const scopes = stringList(body, 'scopes');
      const includeContent = body['include_content'] ?? false;
      if (typeof includeContent !== 'boolean') {
        throw new AtiError('ATI_ERR_INVALID_REQUEST', 'Invalid request: "include_content" must be a boolean');
      }
      const v = viewOf(stateOf(request));
      // Resolve the scopes the client sent, then keep only what the caller itself may see.
      return resolveSkills(v.registry, v.state.gen, callerForScopes(scopes))
        .filter((s) => canSee(v, s.name))
        .map((s) => ({
          name: s.name,
          version: s.version,
          description: s.description,
          tools: s.tools,
          providers: s.providers,
          categories: s.categories,
          ...(includeContent ? { content: s.content } : {}),
        }));
    });
  };
}

export const skillsRoutes: RouteModule = createSkillsRoutes();
