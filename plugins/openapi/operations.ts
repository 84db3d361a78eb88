/**
 * Walks an OpenAPI document's operations and applies the manifest's filters
 * (the reference's order): paths in document order, methods get, post, put,
 * delete, patch; operation ids generated when missing; include/exclude
 * operations, include/exclude tags, multipart bodies dropped, then the first
 * `openapi_max_operations`.
 */
import type { HttpMethod } from '../../sdk/plugin.js';
import { deref } from './ref-resolver.js';
import type { OpenApiSettings } from './schema.js';

export interface Operation {
  /** Effective operation id (spec's, or generated). */
  id: string;
  method: HttpMethod;
  path: string;
  op: Record<string, unknown>;
  /** Parameters declared on the path item (before the operation's own). */
  pathParams: unknown[];
  tags: string[];
}

export const WALKED_METHODS = ['get', 'post', 'put', 'delete', 'patch'] as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `get /works/{doi}` → `get_works_doi` (the reference's naming). */
export function generatedOperationId(method: string, path: string): string {
  const slug = path
    .replace(/^\/+|\/+$/g, '')
    .replace(/\//g, '_')
    .replace(/[{}]/g, '');
  return `${method}_${slug}`;
}

export interface WalkResult {
  operations: Operation[];
  /** Operation ids seen twice (the later ones are skipped). */
  duplicates: string[];
  /** Every effective operation id before filtering (for override checks). */
  allIds: Set<string>;
}

/** All operations of `doc` in spec order. Path items that are `$ref`s are resolved locally (3.1 `components/pathItems`). */
export function walkOperations(doc: Record<string, unknown>): WalkResult {
  const operations: Operation[] = [];
  const duplicates: string[] = [];
  const allIds = new Set<string>();
  const paths = isRecord(doc['paths']) ? doc['paths'] : {};
  for (const [path, raw] of Object.entries(paths)) {
    const item = deref(doc, raw);
    if (!isRecord(item)) continue;
    const pathParams = Array.isArray(item['parameters']) ? item['parameters'] : [];
    for (const method of WALKED_METHODS) {
      const op = item[method];
      if (!isRecord(op)) continue;
      const given = op['operationId'];
      const id = typeof given === 'string' && given !== '' ? given : generatedOperationId(method, path);
      if (allIds.has(id)) {
        duplicates.push(id);
        continue;
      }
      allIds.add(id);
      const tags = Array.isArray(op['tags']) ? op['tags'].filter((t): t is string => typeof t === 'string') : [];
      operations.push({ id, method: method.toUpperCase() as HttpMethod, path, op, pathParams, tags });
    }
  }
  return { operations, duplicates, allIds };
}

/** True when the operation's request body (inline or `$ref`'d) offers multipart/form-data. */
export function hasMultipartBody(doc: Record<string, unknown>, op: Record<string, unknown>): boolean {
  const rb = deref(doc, op['requestBody']);
  if (!isRecord(rb) || !isRecord(rb['content'])) return false;
  return Object.keys(rb['content']).some((ct) => ct.toLowerCase().startsWith('multipart/form-data'));
}

/** Applies the filters in the reference's order, then the cap. */
export function filterOperations(doc: Record<string, unknown>, ops: Operation[], s: OpenApiSettings): Operation[] {
  const include = new Set(s.includeOperations);
  const exclude = new Set(s.excludeOperations);
  const kept = ops.filter((o) => {
    if (include.size > 0 && !include.has(o.id)) return false;
    if (exclude.has(o.id)) return false;
    if (s.includeTags.length > 0 && !o.tags.some((t) => s.includeTags.includes(t))) return false;
    if (o.tags.some((t) => s.excludeTags.includes(t))) return false;
    if (hasMultipartBody(doc, o.op)) return false;
    return true;
  });
  return s.maxOperations !== undefined ? kept.slice(0, s.maxOperations) : kept;
}
