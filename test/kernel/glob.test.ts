import { describe, expect, it } from 'vitest';
import { compileGlob, GlobSet } from '../../kernel/glob.js';

const m = (g: string, s: string) => compileGlob(g).test(s);

describe('glob dialect (globset defaults)', () => {
  it('anchors both ends and is case-sensitive', () => {
    expect(m('/a', '/a')).toBe(true);
    expect(m('/a', '/a/b')).toBe(false);
    expect(m('/a', '/A')).toBe(false);
  });
  it('lets * and ? cross "/"', () => {
    expect(m('/api/*', '/api/x/y/z')).toBe(true);
    expect(m('/a?c', '/a/c')).toBe(true);
    expect(m('*.json', '/a/b.json')).toBe(true);
    expect(m('/v1/*/admin', '/v1/a/b/admin')).toBe(true);
  });
  it('treats ** as a whole component only', () => {
    expect(m('**', 'anything/at/all')).toBe(true);
    expect(m('**/x', 'x')).toBe(true);
    expect(m('**/x', '/x')).toBe(true);
    expect(m('**/x', 'a/b/x')).toBe(true);
    expect(m('/a/**', '/a/')).toBe(true);
    expect(m('/a/**', '/a/x/y')).toBe(true);
    expect(m('/a/**', '/a')).toBe(false);
    expect(m('/a/**/b', '/a/b')).toBe(true);
    expect(m('/a/**/b', '/a/x/y/b')).toBe(true);
    expect(m('/a**b', '/a/x/b')).toBe(true);
  });
  it('supports classes, alternation and escapes', () => {
    expect(m('/[abc]', '/b')).toBe(true);
    expect(m('/[a-c]x', '/cx')).toBe(true);
    expect(m('/[!a]', '/b')).toBe(true);
    expect(m('/[!a]', '/a')).toBe(false);
    expect(m('/[^a]', '/a')).toBe(false);
    expect(m('/x[/]y', '/x/y')).toBe(true);
    expect(m('/{health,metrics}', '/metrics')).toBe(true);
    expect(m('/{health,metrics}', '/other')).toBe(false);
    expect(m('/a,b', '/a,b')).toBe(true);
    expect(m('/\\*', '/*')).toBe(true);
    expect(m('/\\*', '/x')).toBe(false);
    expect(m('/a.b', '/axb')).toBe(false);
  });
  it('refuses malformed globs', () => {
    for (const g of ['/[abc', '/{a,b', '/{a,{b}}', '/[z-a]', '/a\\'])
      expect(() => compileGlob(g), g).toThrow(/invalid glob/);
  });
  it('expands deny/forward-auth patterns as the reference does', () => {
    const t = (p: string, yes: string[], no: string[]) => {
      const s = new GlobSet([p], { expand: true });
      for (const y of yes) expect(s.matches(y), `${p} should match ${y}`).toBe(true);
      for (const x of no) expect(s.matches(x), `${p} should not match ${x}`).toBe(false);
    };
    t('/config/*', ['/config/', '/config/x', '/config/x/y/z'], ['/config', '/configuration']);
    t('/admin', ['/admin', '/admin/', '/admin/users/list'], ['/administrator']);
    t('/admin/', ['/admin/', '/admin/x'], ['/admin']);
    t('/config/**', ['/config/', '/config/a/b'], ['/config']);
    t('*.json', ['/a/b.json'], ['/a/b.jsonx']);
    t('/', ['/', '/anything/below'], ['relative']);
    t('/v1/*', ['/v1/chat/completions', '/v1/embeddings/openai/x'], ['/v1']);
  });
  it('does not expand when not asked (sig-verify exempt list)', () => {
    const s = new GlobSet(['/admin']);
    expect(s.matches('/admin/x')).toBe(false);
    expect(new GlobSet([]).matches('/x')).toBe(false);
  });
});
