/** The one `${name}` expander and its per-handler syntax options. */
import { describe, expect, it } from 'vitest';
import {
  compileTemplate,
  expandPlaceholders,
  expandTemplate,
  LENIENT_TEMPLATE,
  templateProblem,
} from '../../kernel/placeholders.js';

const values: Record<string, string> = { a: 'A-${b}', b: 'B', empty: '', 'dotted.name-1': 'D' };
const lookup = (k: string) => values[k];

describe('${name} expansion', () => {
  it('expands in one left-to-right pass: a substituted value is never scanned again', () => {
    expect(expandPlaceholders('${a}/${b}', lookup).value).toBe('A-${b}/B');
    expect(expandTemplate(compileTemplate('x${a}y'), (k) => values[k]!)).toBe('xA-${b}y');
    expect(compileTemplate('plain').isStatic).toBe(true);
    expect(compileTemplate('${a}-${b}-${a}').keys).toEqual(['a', 'b', 'a']);
  });

  it('collects every missing name (once, in order), leaves them as written, and records what it substituted', () => {
    const x = expandPlaceholders('${missing}:${a}:${other}:${missing}:${empty}', lookup);
    expect(x).toEqual({
      value: '${missing}:A-${b}:${other}:${missing}:',
      missing: ['missing', 'other'],
      used: [
        ['a', 'A-${b}'],
        ['empty', ''],
      ],
    });
  });

  it('strict syntax (the default, for fields validated at load) rejects unterminated and empty placeholders', () => {
    expect(() => compileTemplate('x ${open')).toThrow('unterminated "${" placeholder at offset 2');
    expect(() => compileTemplate('x ${ }')).toThrow('empty "${}" placeholder at offset 2');
    expect(templateProblem('ok ${a}')).toBeUndefined();
    expect(templateProblem('${')).toMatch(/unterminated/);
  });

  it('lenient syntax keeps an unterminated ${ as literal text; ${} names the entry ""', () => {
    expect(expandPlaceholders('x ${b} ${open', lookup, LENIENT_TEMPLATE).value).toBe('x B ${open');
    expect(expandPlaceholders('${}', lookup, LENIENT_TEMPLATE).missing).toEqual(['']);
    // The nearest `}` closes a placeholder: no nesting.
    expect(expandPlaceholders('${a${b}', lookup).missing).toEqual(['a${b']);
  });

  it('a name pattern makes any other ${…} literal text and resumes scanning after its ${', () => {
    const syntax = { ...LENIENT_TEMPLATE, name: /^[A-Za-z0-9_.-]+$/ };
    expect(expandPlaceholders('x-$ {a} ${ -${}-${dotted.name-1}', lookup, syntax).value).toBe('x-$ {a} ${ -${}-D');
    expect(expandPlaceholders('${a${b}', lookup, syntax).value).toBe('${aB');
  });

  it('a resolver that throws stops the expansion with its error (the handlers name the entry)', () => {
    const t = compileTemplate('${b}${zzz}');
    expect(() =>
      expandTemplate(t, (k) => {
        if (values[k] === undefined) throw new Error(`missing ${k}`);
        return values[k];
      }),
    ).toThrow('missing zzz');
  });
});
