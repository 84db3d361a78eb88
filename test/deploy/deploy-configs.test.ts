/**
 * The deploy examples are checked by the tools that will read them: systemd's
 * verifier, `haproxy -c`, `caddy validate`. (No Docker engine on this machine:
 * the Dockerfile is reviewed, not built.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runAti } from '../helpers/proxy-process.js';

const VM = path.join(REPO_ROOT, 'deploy', 'examples', 'vm');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ati-deploy-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('deploy examples', () => {
  it('systemd units pass systemd-analyze verify without a single warning', () => {
    const root = path.join(tmp, 'root');
    mkdirSync(path.join(root, 'etc/systemd/system'), { recursive: true });
    mkdirSync(path.join(root, 'usr/local/bin'), { recursive: true });
    mkdirSync(path.join(root, 'bin'), { recursive: true });
    mkdirSync(path.join(root, 'lib/systemd'), { recursive: true });
    cpSync('/lib/systemd/system', path.join(root, 'lib/systemd/system'), { recursive: true });
    for (const b of ['kill', 'chown']) cpSync(`/bin/${b}`, path.join(root, 'bin', b));
    writeFileSync(path.join(root, 'usr/local/bin/ati'), '#!/bin/sh\n');
    chmodSync(path.join(root, 'usr/local/bin/ati'), 0o755);
    const units = ['ati.service', 'ati-rotate-keyring.service', 'ati-rotate-keyring.timer'];
    for (const u of units) cpSync(path.join(VM, 'systemd', u), path.join(root, 'etc/systemd/system', u));
    const r = spawnSync(
      'systemd-analyze',
      ['verify', `--root=${root}`, ...units.map((u) => `/etc/systemd/system/${u}`)],
      { encoding: 'utf8' },
    );
    expect(r.error).toBeUndefined();
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('the unit starts with ExecStartPre=ati proxy --check and reloads with SIGHUP', () => {
    const unit = readFileSync(path.join(VM, 'systemd', 'ati.service'), 'utf8');
    expect(unit).toMatch(/^ExecStartPre=\/usr\/local\/bin\/ati proxy --check /m);
    expect(unit).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(unit).toMatch(/^ProtectSystem=strict$/m);
    expect(unit).toMatch(/^NoNewPrivileges=true$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
  });

  it('the ExecStart flags are flags this ati accepts', async () => {
    const unit = readFileSync(path.join(VM, 'systemd', 'ati.service'), 'utf8');
    const exec = /^ExecStart=\/usr\/local\/bin\/ati ((?:.*\\\n)*.*)$/m.exec(unit)![1]!.replace(/\\\n\s*/g, ' ');
    const dir = path.join(tmp, 'ati');
    mkdirSync(path.join(dir, 'manifests'), { recursive: true });
    const args = exec
      .split(/\s+/)
      .filter(Boolean)
      .map((a) => (a === '/var/lib/ati' ? dir : a));
    const r = await runAti([...args, '--check']);
    // log mode without a signing secret: the reference's ERROR banner is expected, a failure is not
    expect(r.stderr).not.toMatch(/ati command failed/);
    expect(r.stdout).toMatch(/ati proxy --check: OK/);
    expect(r.code).toBe(0);
  });

  it('haproxy -c accepts the HAProxy config', () => {
    const out = execFileSync('haproxy', ['-c', '-f', path.join(VM, 'haproxy', 'haproxy.cfg')], { encoding: 'utf8' });
    expect(out).toMatch(/Configuration file is valid/);
  });

  it('caddy validate accepts the Caddyfile', () => {
    const r = spawnSync(
      'caddy',
      ['validate', '--config', path.join(VM, 'caddy', 'Caddyfile'), '--adapter', 'caddyfile'],
      { encoding: 'utf8', env: { ...process.env, HOME: tmp, XDG_DATA_HOME: tmp, XDG_CONFIG_HOME: tmp } },
    );
    expect(r.stdout + r.stderr).toMatch(/Valid configuration/);
    expect(r.status).toBe(0);
  });

  it('the Dockerfile runs as non-root with a /health healthcheck on node 20', () => {
    const df = readFileSync(path.join(REPO_ROOT, 'deploy', 'Dockerfile'), 'utf8');
    expect(df).toMatch(/^FROM node:20-slim/m);
    expect(df).toMatch(/^USER node$/m);
    expect(df).toMatch(/^HEALTHCHECK .*\n.*\/health/m);
    expect(existsSync(path.join(VM, 'manifests', 'example-passthrough.toml'))).toBe(true);
  });
});
