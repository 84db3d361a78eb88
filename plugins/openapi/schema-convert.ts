/**
 * OpenAPI (3.0 / 3.1) schema → the JSON Schema of a tool argument. Keeps what
 * an agent needs to fill the argument (type, description, enum, default,
 * example, format, bounds, nested properties, items) and drops the rest.
 * `$ref`s are resolved with a depth limit (32) and cycle safety: a schema that
 * refers back to itself becomes `{"type":"object"}` at the point of recursion,
 * so circular specs (trees, linked lists) load.
 *
 * Departures from the reference: nested objects keep their
 * properties (inline or `$ref`'d), `allOf` object parts are merged, and
 * `oneOf`/`anyOf` keep their alternatives instead of collapsing to string.
 * 3.1 specifics: `type` arrays (`["string","null"]` → `"string"`), `examples`
 * arrays (first one becomes `example`), `const`, boolean schemas.
 */
import { MAX_REF_DEPTH, resolvePointer } from './ref-resolver.js';

type Json = Record<string, unknown>;

const COPIED = [
  'description',
  'default',
  'example',
  'enum',
  'format',
  'const',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'uniqueItems',
] as const;
/** Alternatives kept per oneOf/anyOf; more are rare and only bloat the tool listing. */
const MAX_ALTERNATIVES = 16;
/**
 * Schema nodes converted per operation. Reused `$ref`s expand once per use, so a
 * spec whose schemas fan out could grow exponentially within the depth limit;
 * past the budget, nodes become `{}` (any value).
 */
export const NODE_BUDGET = 5_000;

function isRecord(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class SchemaConverter {
  private budget = NODE_BUDGET;

  constructor(private readonly doc: unknown) {}

  /** Starts a new operation's node budget. */
  resetBudget(): void {
    this.budget = NODE_BUDGET;
  }

  /** Converts `schema`; `depth` counts nesting and `$ref` hops. */
  convert(schema: unknown, depth = 0, stack: ReadonlySet<string> = new Set()): Json {
    if (schema === true || schema === undefined) return {};
    if (schema === false) return { not: {} };
    if (!isRecord(schema)) return {};
    if (depth >= MAX_REF_DEPTH) return { type: 'object' };
    if (--this.budget < 0) return {};

    const ref = schema['$ref'];
    if (typeof ref === 'string') {
      if (stack.has(ref)) return { type: 'object', description: `(recursive: ${ref.split('/').pop()})` };
      const target = resolvePointer(this.doc, ref);
      if (target === undefined) return {};
      const next = new Set(stack).add(ref);
      const out = this.convert(target, depth + 1, next);
      // 3.1 allows siblings next to $ref; a description there is the more specific one.
      if (typeof schema['description'] === 'string') out['description'] = schema['description'];
      return out;
    }

    const out: Json = {};
    const type = normaliseType(schema['type']);
    if (type !== undefined) out['type'] = type;
    for (const k of COPIED) if (schema[k] !== undefined) out[k] = schema[k];
    if (out['example'] === undefined && Array.isArray(schema['examples']) && schema['examples'].length > 0)
      out['example'] = schema['examples'][0];

    if (isRecord(schema['properties'])) {
      const props: Json = {};
      for (const [k, v] of Object.entries(schema['properties'])) props[k] = this.convert(v, depth + 1, stack);
      out['properties'] = props;
      out['type'] ??= 'object';
    }
    if (Array.isArray(schema['required'])) {
      const req = schema['required'].filter((r): r is string => typeof r === 'string');
      if (req.length > 0) out['required'] = req;
    }
    if (isRecord(schema['additionalProperties']))
      out['additionalProperties'] = this.convert(schema['additionalProperties'], depth + 1, stack);
    else if (typeof schema['additionalProperties'] === 'boolean')
      out['additionalProperties'] = schema['additionalProperties'];
    if (schema['items'] !== undefined) out['items'] = this.convert(schema['items'], depth + 1, stack);

    if (Array.isArray(schema['allOf'])) this.mergeAllOf(out, schema['allOf'], depth, stack);
    for (const key of ['oneOf', 'anyOf'] as const) {
      const alts = schema[key];
      if (Array.isArray(alts) && alts.length > 0)
        out[key] = alts.slice(0, MAX_ALTERNATIVES).map((a) => this.convert(a, depth + 1, stack));
    }
    return out;
  }

  /** Merges the parts of an `allOf` into `out` (properties, required, type). */
  private mergeAllOf(out: Json, parts: unknown[], depth: number, stack: ReadonlySet<string>): void {
    for (const part of parts) {
      const c = this.convert(part, depth + 1, stack);
      if (isRecord(c['properties']))
        out['properties'] = { ...(isRecord(out['properties']) ? out['properties'] : {}), ...c['properties'] };
      if (Array.isArray(c['required']))
        out['required'] = [
          ...new Set([...((out['required'] as string[] | undefined) ?? []), ...(c['required'] as string[])]),
        ];
      if (out['type'] === undefined && c['type'] !== undefined) out['type'] = c['type'];
      if (out['description'] === undefined && c['description'] !== undefined) out['description'] = c['description'];
    }
  }
}

/** `"string"`, or a 3.1 array: `["string","null"]` → `"string"`, several non-null types stay an array. */
function normaliseType(t: unknown): string | string[] | undefined {
  if (typeof t === 'string') return t;
  if (!Array.isArray(t)) return undefined;
  const types = t.filter((x): x is string => typeof x === 'string' && x !== 'null');
  if (types.length === 0) return t.includes('null') ? 'null' : undefined;
  return types.length === 1 ? types[0] : types;
}
