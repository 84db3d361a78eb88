import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const LOGGER = fileURLToPath(new URL('../../dist/kernel/logger.js', import.meta.url));
const OUTPUT = fileURLToPath(new URL('../../dist/cli/output.js', import.meta.url));

/** Runs an ESM snippet with the built logger imported as `L` (and cli/output as `O`); returns its stderr lines. */
function run(body: string): { lines: string[]; status: number | null } {
  const src = `import * as L from ${JSON.stringify(LOGGER)}; import * as O from ${JSON.stringify(OUTPUT)};\n${body}`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', src], {
    encoding: 'utf8',
    env: { ...process.env, ATI_LOG: 'info' },
  });
  return { lines: r.stderr.split('\n').filter(Boolean), status: r.status };
}

const messages = (lines: string[]) =>
  lines.map((l) => (l.startsWith('{"level"') ? (JSON.parse(l) as { message: string }).message : l));

describe('stderr log destination (batched per event-loop turn)', () => {
  it('writes the lines of a turn that ends in process.exit, in order', () => {
    const r = run(
      `const log = L.createLogger(); for (let i = 0; i < 500; i++) log.info({ i }, 'line ' + i); process.exit(3);`,
    );
    expect(r.status).toBe(3);
    expect(messages(r.lines)).toEqual(Array.from({ length: 500 }, (_, i) => `line ${i}`));
  });

  it('writes pending lines when the process dies of an uncaught exception', () => {
    const r = run(`const log = L.createLogger(); log.warn('before the crash'); throw new Error('boom');`);
    expect(r.status).toBe(1);
    expect(messages(r.lines)[0]).toBe('before the crash');
    expect(r.lines.join('\n')).toContain('boom');
  });

  it('keeps the order of log lines and direct stderr writes (fatal report after its log line)', () => {
    const r = run(
      `const log = L.createLogger(); log.info('first'); process.exitCode = O.reportFatal(new Error('bad thing'), 'json', log);`,
    );
    expect(messages(r.lines)).toEqual(['first', 'ati command failed', expect.stringContaining('"error":{"code"')]);
  });

  it('delivers lines while the process keeps running (no exit needed)', () => {
    const r = run(
      `const log = L.createLogger(); log.info('early'); setTimeout(() => { process.stderr.write('after a timer\\n'); }, 20);`,
    );
    expect(messages(r.lines)).toEqual(['early', 'after a timer']);
  });
});
