/**
 * `SKILL.md` frontmatter (the Anthropic Agent Skills format, docs/skills.md):
 * a first line `---` (leading whitespace allowed), YAML, then a line starting
 * with `---`. The body is what agents get as `content`.
 */
import { parse as parseYaml } from 'yaml';

export interface SplitMarkdown {
  /** The YAML text between the fences, or undefined when there is no fenced block. */
  yaml: string | undefined;
  /** The text after the closing fence line (the whole text when there is no block). */
  body: string;
}

/** Splits a fenced frontmatter block from the Markdown body. An unclosed block is not frontmatter. */
export function splitFrontmatter(text: string): SplitMarkdown {
  const start = text.length - text.trimStart().length;
  const rest = text.slice(start);
  const firstEol = rest.indexOf('\n');
  if (firstEol < 0 || rest.slice(0, firstEol).replace(/\r$/, '').trimEnd() !== '---')
    return { yaml: undefined, body: text };
  let pos = firstEol + 1;
  while (pos <= rest.length) {
    const eol = rest.indexOf('\n', pos);
    const line = rest.slice(pos, eol < 0 ? rest.length : eol);
    if (line.startsWith('---')) {
      return { yaml: rest.slice(firstEol + 1, pos), body: eol < 0 ? '' : rest.slice(eol + 1) };
    }
    if (eol < 0) break;
    pos = eol + 1;
  }
  return { yaml: undefined, body: text };
}

/** The fields ATI reads from frontmatter, type-checked. */
export interface Frontmatter {
  name?: string;
  description?: string;
  license?: string;
  compatibility?: string;
  whenToUse?: string;
  allowedTools?: string;
  /** `metadata` minus the lifted `author` and `version`. */
  metadata: Record<string, string>;
  author?: string;
  version?: string;
}

/**
 * Parses and type-checks frontmatter YAML. Throws an Error naming the field on
 * invalid YAML or a wrong type (then the caller falls back to skill.toml or the
 * inferred format, and warns).
 */
export function parseFrontmatter(yamlText: string): Frontmatter {
  let doc: unknown;
  try {
    doc = parseYaml(yamlText, { prettyErrors: false });
  } catch (err) {
    throw new Error(`invalid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('frontmatter is not a YAML mapping');
  const d = doc as Record<string, unknown>;
  const str = (key: string): string | undefined => {
    const v = d[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new Error(`"${key}" must be a string`);
    return v;
  };
  const fm: Frontmatter = { metadata: Object.create(null) as Record<string, string> };
  const set = <K extends keyof Frontmatter>(k: K, v: Frontmatter[K] | undefined) => {
    if (v !== undefined) fm[k] = v;
  };
  set('name', str('name'));
  set('description', str('description'));
  set('license', str('license'));
  set('compatibility', str('compatibility'));
  set('whenToUse', str('when_to_use') ?? str('when-to-use'));
  const allowed = d['allowed-tools'] ?? d['allowed_tools'];
  if (allowed !== undefined && allowed !== null) {
    // The Agent Skills format writes a space-separated string; a YAML list is accepted too.
    if (typeof allowed === 'string') fm.allowedTools = allowed;
    else if (Array.isArray(allowed) && allowed.every((x) => typeof x === 'string')) fm.allowedTools = allowed.join(' ');
    else throw new Error('"allowed-tools" must be a string or a list of strings');
  }
  const meta = d['metadata'];
  if (meta !== undefined && meta !== null) {
    if (typeof meta !== 'object' || Array.isArray(meta)) throw new Error('"metadata" must be a mapping of strings');
    for (const [k, v] of Object.entries(meta as Record<string, unknown>)) {
      if (typeof v !== 'string') throw new Error(`"metadata.${k}" must be a string (quote it)`);
      if (k === 'author') fm.author = v;
      else if (k === 'version') fm.version = v;
      else fm.metadata[k] = v;
    }
  }
  return fm;
}
