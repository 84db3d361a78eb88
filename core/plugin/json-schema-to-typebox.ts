/**
 * Third-party plugins may declare their manifest fields as plain JSON Schema
 * (no TypeBox). The validator works on TypeBox schemas, so plain schemas are
 * converted once at registration. Supported keywords: type (incl. arrays of
 * types), enum, const, properties, required, additionalProperties, items,
 * anyOf, oneOf, and the usual annotations and bounds, which are kept as options.
 */
import { Kind, Type, type TSchema } from '@sinclair/typebox';

type Json = Record<string, unknown>;

const OPTION_KEYS = [
  'description',
  'default',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'format',
  'title',
];

function options(s: Json): Json {
  const o: Json = {};
  for (const k of OPTION_KEYS) if (k in s) o[k] = s[k];
  return o;
}

export function isTypeBox(s: unknown): s is TSchema {
  return typeof s === 'object' && s !== null && Kind in s;
}

export function fromJsonSchema(schema: unknown): TSchema {
  if (isTypeBox(schema)) return schema;
  if (typeof schema !== 'object' || schema === null) return Type.Unknown();
  const s = schema as Json;
  const opts = options(s);
  if ('const' in s) return Type.Literal(s['const'] as string | number | boolean, opts);
  if (Array.isArray(s['enum']))
    return Type.Union(
      (s['enum'] as Array<string | number | boolean>).map((v) => Type.Literal(v)),
      opts,
    );
  for (const key of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(s[key])) return Type.Union((s[key] as unknown[]).map(fromJsonSchema), opts);
  }
  const type = s['type'];
  if (Array.isArray(type))
    return Type.Union(
      type.map((t) => fromJsonSchema({ ...s, type: t })),
      opts,
    );
  switch (type) {
    case 'string':
      return Type.String(opts);
    case 'number':
      return Type.Number(opts);
    case 'integer':
      return Type.Integer(opts);
    case 'boolean':
      return Type.Boolean(opts);
    case 'null':
      return Type.Null(opts);
    case 'array':
      return Type.Array(fromJsonSchema(s['items']), opts);
    case 'object': {
      const props = (s['properties'] ?? {}) as Json;
      const required = new Set((s['required'] as string[] | undefined) ?? []);
      const converted: Record<string, TSchema> = {};
      for (const [k, v] of Object.entries(props))
        converted[k] = required.has(k) ? fromJsonSchema(v) : Type.Optional(fromJsonSchema(v));
      const ap = s['additionalProperties'];
      if (Object.keys(props).length === 0 && typeof ap === 'object' && ap !== null)
        return Type.Record(Type.String(), fromJsonSchema(ap), opts);
      return Type.Object(converted, {
        ...opts,
        additionalProperties: ap === undefined ? true : typeof ap === 'boolean' ? ap : fromJsonSchema(ap),
      });
    }
    default:
      return Type.Unknown(opts);
  }
}

/** Converts a properties map; fields are optional unless the plain schema says `required: true` on the field itself. */
export function propertiesFromJsonSchema(props: Record<string, unknown>): Record<string, TSchema> {
  const out: Record<string, TSchema> = {};
  for (const [k, v] of Object.entries(props)) {
    if (isTypeBox(v)) out[k] = v;
    else {
      const required = typeof v === 'object' && v !== null && (v as Json)['required'] === true;
      const { required: _r, ...rest } = (v ?? {}) as Json;
      out[k] = required ? fromJsonSchema(rest) : Type.Optional(fromJsonSchema(rest));
    }
  }
  return out;
}
