/**
 * node:fs plus a small `globSync(pattern | pattern[], { cwd, exclude, withFileTypes })`
 * for Node 20: `**`, `*`, `?` and `{a,b}`; paths relative to `cwd` with `/`
 * separators, files and directories alike (what the conformance CLI needs:
 * `globSync('**\/checks.json', { cwd })`).
 */
import fs from 'node:fs';
import path from 'node:path';
export * from 'node:fs';
export default fs;

export function globToRegExp(glob) {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '{') {
      const end = glob.indexOf('}', i);
      if (end < 0) {
        re += '\\{';
        continue;
      }
      const alternatives = glob
        .slice(i + 1, end)
        .split(',')
        .map((s) => globToRegExp(s).source.slice(1, -1));
      re += `(?:${alternatives.join('|')})`;
      i = end;
    } else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

export function globSync(pattern, options = {}) {
  const cwd = options.cwd ? String(options.cwd instanceof URL ? options.cwd.pathname : options.cwd) : process.cwd();
  const regexes = (Array.isArray(pattern) ? pattern : [pattern]).map((p) => globToRegExp(p.replace(/^\.\//, '')));
  const exclude = options.exclude;
  let entries;
  try {
    entries = fs.readdirSync(cwd, { recursive: true });
  } catch {
    return [];
  }
  const out = [];
  for (const rel of entries) {
    const p = String(rel).split(path.sep).join('/');
    if (!regexes.some((r) => r.test(p))) continue;
    if (typeof exclude === 'function' && exclude(p)) continue;
    if (Array.isArray(exclude) && exclude.some((g) => globToRegExp(g).test(p))) continue;
    if (options.withFileTypes) {
      const d = fs.lstatSync(path.join(cwd, p));
      d.name = path.basename(p);
      d.parentPath = path.join(cwd, path.dirname(p));
      out.push(d);
    } else out.push(p);
  }
  return out;
}
