/**
 * The JSON Schema of manifests, generated from the common fields and every
 * registered handler's fields. Editors use it to validate TOML as it is typed
 * (taplo / Even Better TOML: `#:schema ./manifest.schema.json` on the first line).
 * Checked in as docs/schema/manifest.schema.json; a test keeps it up to date.
 */
import { Type, type TProperties } from '@sinclair/typebox';
import type { HandlerSchemas } from './manifest-types.js';
import { CommonProviderFields, CommonToolFields, DEPRECATED_PROVIDER_KEYS } from './manifest-schema.js';

function objectSchema(props: TProperties, required: string[]): Record<string, unknown> {
  // JSON round trip drops TypeBox's symbol keys, leaving plain JSON Schema.
  const o = JSON.parse(JSON.stringify(Type.Object(props, { additionalProperties: false }))) as Record<string, unknown>;
  // Keep fields a handler declares required (e.g. a plain-JSON-Schema `required: true`) beside the common ones.
  o['required'] = [...new Set([...required, ...((o['required'] as string[] | undefined) ?? [])])];
  return o;
}

export function manifestJsonSchema(registry: HandlerSchemas): Record<string, unknown> {
  const handlers = registry.all().sort((a, b) => a.name.localeCompare(b.name));
  const deprecated = Object.fromEntries(
    Object.keys(DEPRECATED_PROVIDER_KEYS).map((k) => [
      k,
      { deprecated: true, description: DEPRECATED_PROVIDER_KEYS[k] },
    ]),
  );
  const variants = handlers.map((h) => {
    const provider = objectSchema({ ...CommonProviderFields, ...h.providerSchema }, ['name', 'description']);
    (provider['properties'] as Record<string, unknown>)['handler'] = { const: h.name };
    Object.assign(provider['properties'] as Record<string, unknown>, deprecated);
    const tool = objectSchema({ ...CommonToolFields, ...(h.toolSchema ?? {}) }, ['name', 'description']);
    const cond =
      h.name === 'http'
        ? { anyOf: [{ properties: { handler: { const: 'http' } } }, { not: { required: ['handler'] } }] }
        : { properties: { handler: { const: h.name } }, required: ['handler'] };
    return {
      if: { properties: { provider: cond } },
      then: { properties: { provider, tools: { type: 'array', items: tool } } },
    };
  });
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://github.com/Parcha-ai/ati/manifest.schema.json',
    title: 'ATI provider manifest',
    description: `One provider per file in <ati_dir>/manifests/. Handlers: ${handlers.map((h) => h.name).join(', ')}.`,
    type: 'object',
    additionalProperties: false,
    required: ['provider'],
    properties: {
      provider: {
        type: 'object',
        required: ['name', 'description'],
        properties: { handler: { enum: handlers.map((h) => h.name) } },
      },
      tools: { type: 'array', items: { type: 'object' } },
    },
    allOf: variants,
  };
}
