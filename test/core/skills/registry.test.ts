import { mkdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../kernel/logger.js';
import { loadSkillRegistry } from '../../../core/skills/registry.js';
import { skillSourceFiles } from '../../../core/skills/extension.js';
import { splitFrontmatter } from '../../../core/skills/frontmatter.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { memoryLogger, REFERENCE_SKILLS } from './fixtures.js';

describe('skill registry loading', () => {
  let dir: TempAtiDir | undefined;
  afterEach(async () => {
    await dir?.cleanup();
    dir = undefined;
  });
  const skillsDir = () => path.join(dir!.dir, 'skills');

  it("loads the reference's two skills (legacy-toml)", async () => {
    const log = memoryLogger();
    const reg = await loadSkillRegistry(REFERENCE_SKILLS, log.logger);
    expect(reg.size).toBe(2);
    expect(log.warnings()).toEqual([]);
    expect(reg.skills.map((s) => s.name)).toEqual(['ati-tools-reference', 'google-workspace']);
    const gw = reg.get('google-workspace')!;
    expect(gw).toMatchObject({
      format: 'legacy-toml',
      version: '0.1.0',
      author: 'Parcha',
      description: 'How to use Google Workspace APIs through the gws CLI via ATI',
      providers: ['google_workspace'],
      categories: ['productivity'],
      tools: [],
      hint: null,
    });
    expect(gw.keywords).toContain('gmail');
    expect(gw.content.startsWith('# Google Workspace CLI (gws) via ATI')).toBe(true);
    expect(reg.get('ati-tools-reference')!.categories).toEqual(['reference']);
    expect(reg.forCategory('productivity').map((s) => s.name)).toEqual(['google-workspace']);
    expect(reg.skillsForTool('anything', 'google_workspace')).toEqual(['google-workspace']);
  });

  it('a missing skills folder is an empty registry', async () => {
    dir = await makeAtiDir();
    const reg = await loadSkillRegistry(skillsDir(), silentLogger());
    expect(reg.size).toBe(0);
  });

  it('reads frontmatter (anthropic format) and takes only bindings from skill.toml', async () => {
    dir = await makeAtiDir({
      'skills/research/SKILL.md':
        '---\nname: deep-research\ndescription: Research things\nlicense: MIT\nwhen-to-use: when asked\nallowed-tools: Read Grep\nmetadata:\n  author: Ann\n  version: "2.1.0"\n  team: core\n---\n# Body\nText\n',
      'skills/research/skill.toml':
        '[skill]\nname = "ignored-name"\nversion = "9.9.9"\ndescription = "ignored"\ntools = ["finnhub:quote"]\nproviders = ["finnhub"]\nkeywords = ["stocks"]\nhint = "use quote"\ndepends_on = ["base"]\n',
    });
    const reg = await loadSkillRegistry(skillsDir(), silentLogger());
    const s = reg.get('deep-research')!;
    expect(s).toMatchObject({
      format: 'anthropic',
      name: 'deep-research',
      version: '2.1.0',
      author: 'Ann',
      description: 'Research things',
      license: 'MIT',
      whenToUse: 'when asked',
      allowedTools: 'Read Grep',
      tools: ['finnhub:quote'],
      providers: ['finnhub'],
      keywords: ['stocks'],
      hint: 'use quote',
      dependsOn: ['base'],
      extraMetadata: { team: 'core' },
      content: '# Body\nText\n',
      dirName: 'research',
    });
    expect(reg.get('ignored-name')).toBeUndefined();
  });

  it('falls back from invalid frontmatter to skill.toml or the inferred format, with a warning', async () => {
    dir = await makeAtiDir({
      'skills/a/SKILL.md': '---\nname: a\nmetadata:\n  version: 1.0\n---\nIntro line\n',
      'skills/a/skill.toml': '[skill]\nname = "a-legacy"\ndescription = "from toml"\n',
      'skills/b/SKILL.md': '---\nname: [unclosed\n---\n# Title\n\n  First real line.  \nmore\n',
    });
    const log = memoryLogger();
    const reg = await loadSkillRegistry(skillsDir(), log.logger);
    expect(reg.get('a-legacy')).toMatchObject({
      format: 'legacy-toml',
      description: 'from toml',
      content: 'Intro line\n',
    });
    expect(reg.get('b')).toMatchObject({ format: 'inferred', description: 'First real line.', version: '0.1.0' });
    const warned = log.warnings().map((w) => String(w['message']));
    expect(warned.filter((m) => m.includes('frontmatter ignored'))).toHaveLength(2);
    expect(warned.some((m) => m.includes('"metadata.version" must be a string'))).toBe(true);
  });

  it('skips broken folders with a WARN and keeps every other skill', async () => {
    dir = await makeAtiDir({
      'skills/good/SKILL.md': '# Good\nA good skill\n',
      'skills/.git/HEAD': 'ref: refs/heads/main\n',
      'skills/.git/SKILL.md': '# not a skill\n',
      'skills/stray/README.md': 'no skill here\n',
      'skills/badtoml/skill.toml': '[skill]\nname = "badtoml"\ntools = "not-a-list"\n',
      'skills/syntax/skill.toml': '[skill\nname = "x"\n',
      'skills/noname/skill.toml': '[skill]\ndescription = "no name"\n',
      'skills/resolve/SKILL.md': 'reserved name\n',
      'skills/zdup/skill.toml': '[skill]\nname = "good"\n',
      'skills/loose-file.md': 'top-level files are not skills\n',
    });
    const log = memoryLogger();
    const reg = await loadSkillRegistry(skillsDir(), log.logger);
    expect(reg.skills.map((s) => s.name)).toEqual(['good']);
    expect(reg.get('good')!.dirName).toBe('good');
    const skipped = Object.fromEntries(reg.skipped.map((s) => [s.dir, s.reason]));
    expect(Object.keys(skipped).sort()).toEqual(['.git', 'badtoml', 'noname', 'resolve', 'stray', 'syntax', 'zdup']);
    expect(skipped['stray']).toBe('has neither SKILL.md nor skill.toml');
    expect(skipped['.git']).toBe('hidden folder');
    expect(skipped['badtoml']).toBe('skill.toml: skill.tools must be an array of strings');
    expect(skipped['syntax']).toMatch(/^skill\.toml: TOML syntax error/);
    expect(skipped['noname']).toBe('skill.toml: skill.name is required');
    expect(skipped['resolve']).toMatch(/reserved/);
    expect(skipped['zdup']).toMatch(/duplicate skill name "good" \(already loaded from folder "good"\)/);
    const warns = log.warnings().filter((w) => w['message'] === 'skill folder skipped');
    expect(warns).toHaveLength(7);
    expect(warns.find((w) => w['skill_dir'] === 'badtoml')).toMatchObject({ line: 3 });
  });

  it('warns about unknown skill.toml keys with a suggestion but still loads', async () => {
    dir = await makeAtiDir({ 'skills/x/skill.toml': '[skill]\nname = "x"\nprovider = ["p"]\n' });
    const log = memoryLogger();
    const reg = await loadSkillRegistry(skillsDir(), log.logger);
    expect(reg.size).toBe(1);
    expect(log.warnings().map((w) => w['message'])).toContain(
      'skill: skill.toml: unknown key "skill.provider" ignored (did you mean "providers"?)',
    );
  });

  it('refuses a SKILL.md that is a symlink pointing outside the skill folder', async () => {
    dir = await makeAtiDir({ 'secret.txt': 'TOP SECRET\n', 'skills/evil/placeholder': '' });
    await symlink(path.join(dir.dir, 'secret.txt'), path.join(skillsDir(), 'evil', 'SKILL.md'));
    const log = memoryLogger();
    const reg = await loadSkillRegistry(skillsDir(), log.logger);
    expect(reg.size).toBe(0);
    expect(reg.skipped[0]!.reason).toBe('SKILL.md is a symlink that points outside the skill folder');
  });

  it('accepts a skill folder that is itself a symlink (the target is the skill root)', async () => {
    dir = await makeAtiDir({ 'elsewhere/linked/SKILL.md': 'Linked skill\n' });
    await mkdir(skillsDir());
    await symlink(path.join(dir.dir, 'elsewhere', 'linked'), path.join(skillsDir(), 'linked'));
    const reg = await loadSkillRegistry(skillsDir(), silentLogger());
    expect(reg.get('linked')).toMatchObject({ description: 'Linked skill', format: 'inferred' });
  });

  it('lists every servable skill file for change detection (no hidden files, no escaping links)', async () => {
    dir = await makeAtiDir({
      'outside.txt': 'x',
      'skills/a/SKILL.md': 'A\n',
      'skills/a/references/r.md': 'r\n',
      'skills/a/.hidden': 'h',
      'skills/.git/config': 'c',
    });
    await symlink(path.join(dir.dir, 'outside.txt'), path.join(skillsDir(), 'a', 'leak.txt'));
    const files = await skillSourceFiles(skillsDir());
    expect(files.map((f) => path.relative(skillsDir(), f))).toEqual(['a/SKILL.md', 'a/references/r.md']);
  });

  it('searches with the reference scores (name 10, keyword 8, description 5 …), best first', async () => {
    const reg = await loadSkillRegistry(REFERENCE_SKILLS, silentLogger());
    expect(reg.search('gmail').map((s) => s.name)).toEqual(['google-workspace']);
    // "ati" is in both names; "reference" also hits a category and name of the reference skill.
    expect(reg.search('ATI reference').map((s) => s.name)).toEqual(['ati-tools-reference', 'google-workspace']);
    expect(reg.search('nothing-matches')).toEqual([]);
  });
});

describe('frontmatter split', () => {
  it('splits a fenced block (leading whitespace, CRLF) and leaves unfenced text alone', () => {
    expect(splitFrontmatter('---\na: 1\n---\nbody')).toEqual({ yaml: 'a: 1\n', body: 'body' });
    expect(splitFrontmatter('\n  ---\r\na: 1\r\n---\r\nbody')).toEqual({ yaml: 'a: 1\r\n', body: 'body' });
    expect(splitFrontmatter('# Title\n---\n')).toEqual({ yaml: undefined, body: '# Title\n---\n' });
    expect(splitFrontmatter('---\nunclosed: true\n')).toEqual({ yaml: undefined, body: '---\nunclosed: true\n' });
  });
});
