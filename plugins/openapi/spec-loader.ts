/**
 * Finds, reads and parses an OpenAPI document: an
 * absolute path or one relative to `<ati_dir>/specs/`; JSON first, then YAML;
 * OpenAPI 3.0.x and 3.1.x (the reference parses 3.0 only). A spec that cannot
 * be loaded is a provisioning error naming the file and the reason (see
 * README: we prefer that to the reference's warning and zero tools).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AtiError, sha256 } from '../../sdk/plugin.js';

export interface LoadedSpec {
  file: string;
  /** sha256 hex of the bytes read. */
  hash: string;
  doc: Record<string, unknown>;
  /** `3.0` or `3.1` (the `openapi` field's major.minor). */
  version: string;
}

/** Largest spec file read (the biggest public specs are a few MB). */
export const MAX_SPEC_BYTES = 64 * 1024 * 1024;

export const URL_SPEC_MESSAGE =
  'URL specs must be downloaded first with `ati provider import-openapi`. Use a local file path.';

export function isUrlSpec(ref: string): boolean {
  return /^https?:\/\//i.test(ref);
}

export function resolveSpecPath(ref: string, specsDir: string): string {
  return path.isAbsolute(ref) ? ref : path.join(specsDir, ref);
}

function specError(file: string, why: string): AtiError {
  return new AtiError('ATI_ERR_PROVISION', `OpenAPI spec ${file}: ${why}`, { location: { file } });
}

export async function loadSpec(ref: string, specsDir: string): Promise<LoadedSpec> {
  if (isUrlSpec(ref)) throw new AtiError('ATI_ERR_PROVISION', URL_SPEC_MESSAGE);
  const file = resolveSpecPath(ref, specsDir);
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw specError(
      file,
      code === 'ENOENT'
        ? 'file not found (openapi_spec is resolved against <ati_dir>/specs/ unless absolute)'
        : `cannot be read: ${(err as Error).message}`,
    );
  }
  if (bytes.length > MAX_SPEC_BYTES) throw specError(file, `larger than ${MAX_SPEC_BYTES} bytes`);
  const text = bytes.toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (jsonErr) {
    try {
      doc = parseYaml(text, { maxAliasCount: 1000 });
    } catch (yamlErr) {
      const looksJson = /^\s*[{[]/.test(text);
      throw specError(
        file,
        `is neither valid JSON nor valid YAML: ${looksJson ? (jsonErr as Error).message : (yamlErr as Error).message.split('\n')[0]}`,
      );
    }
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw specError(file, 'is not an OpenAPI document (the top level is not an object)');
  const d = doc as Record<string, unknown>;
  if (typeof d['swagger'] === 'string')
    throw specError(
      file,
      `is a Swagger ${d['swagger']} document; only OpenAPI 3.0 and 3.1 are supported (convert it first)`,
    );
  const v = d['openapi'];
  if (typeof v !== 'string') throw specError(file, 'is not an OpenAPI document (no "openapi" version field)');
  const m = /^3\.(0|1)(\.|$)/.exec(v);
  if (!m) throw specError(file, `OpenAPI version ${v} is not supported (3.0.x and 3.1.x are)`);
  return { file, hash: sha256(bytes), doc: d, version: `3.${m[1]}` };
}
