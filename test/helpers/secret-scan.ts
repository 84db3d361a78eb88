/**
 * A reusable secret-leak check for e2e tests. Give it the keyring's values;
 * route every response through `fetch` (or hand bodies to `record`), attach
 * the proxy processes and CLI results, then `assertClean()` fails the test on
 * any hit, naming where and which secret (by name, not by value).
 *
 * Each secret is looked for in its raw form and in the spellings it takes in
 * transit: JSON-escaped (log lines), percent-encoded and form-encoded (URLs).
 */
import type { ProxyProcess } from './proxy-process.js';

export interface SecretHit {
  /** What was scanned, e.g. `response GET /tools/x` or `proxy log line 12`. */
  where: string;
  /** The name of the keyring entry whose value was found. */
  secret: string;
  /** Which spelling matched: `raw`, `json`, `url`, `form`. */
  form: string;
}

/** Values shorter than this are not secrets worth scanning for (they match by chance). */
const MIN_SCAN_LENGTH = 6;

function spellings(value: string): Array<[string, string]> {
  const out: Array<[string, string]> = [
    ['raw', value],
    ['json', JSON.stringify(value).slice(1, -1)],
  ];
  try {
    const url = encodeURIComponent(value);
    out.push(['url', url], ['form', url.replace(/%20/g, '+')]);
  } catch {
    // lone surrogate: raw and JSON spellings only
  }
  return out.filter(([, s], i, all) => all.findIndex(([, t]) => t === s) === i);
}

export class SecretScan {
  private readonly secrets: Array<{ name: string; forms: Array<[string, string]> }>;
  private readonly texts: Array<{ where: string; text: string }> = [];
  private readonly procs: Array<{ label: string; proc: ProxyProcess }> = [];
  /** Number of responses and texts scanned (so a test can assert it scanned something). */
  scanned = 0;

  constructor(secrets: Record<string, string>) {
    this.secrets = Object.entries(secrets)
      .filter(([, v]) => v.length >= MIN_SCAN_LENGTH)
      .map(([name, v]) => ({ name, forms: spellings(v) }));
  }

  /** Adds one text (a response body, CLI output, a file) to the scan. */
  record(where: string, text: string): void {
    this.texts.push({ where, text });
  }

  /** Adds every log line and stdout/stderr line of a proxy process (read when `hits()` runs). */
  watch(proc: ProxyProcess, label = 'proxy'): void {
    this.procs.push({ label, proc });
  }

  /** Adds the output of a CLI run. */
  recordCli(label: string, r: { stdout: string; stderr: string }): void {
    this.record(`${label} stdout`, r.stdout);
    this.record(`${label} stderr`, r.stderr);
  }

  /** `fetch` that records the status line, headers and body; returns them. */
  async fetch(url: string, init?: RequestInit): Promise<{ status: number; headers: Headers; body: string }> {
    const res = await fetch(url, init);
    const body = await res.text();
    const where = `response ${init?.method ?? 'GET'} ${new URL(url).pathname}`;
    const headerText = [...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n');
    this.record(`${where} (headers)`, headerText);
    this.record(where, body);
    return { status: res.status, headers: res.headers, body };
  }

  /** Every hit in everything recorded so far. */
  hits(): SecretHit[] {
    const all = [...this.texts];
    for (const { label, proc } of this.procs) {
      proc.logs.forEach((l, i) =>
        all.push({ where: `${label} log line ${i + 1} (${l.message})`, text: JSON.stringify(l) }),
      );
      proc.stderr.forEach((l, i) => all.push({ where: `${label} stderr line ${i + 1}`, text: l }));
      proc.stdout.forEach((l, i) => all.push({ where: `${label} stdout line ${i + 1}`, text: l }));
    }
    this.scanned = all.length;
    const hits: SecretHit[] = [];
    for (const { where, text } of all) {
      for (const s of this.secrets) {
        const form = s.forms.find(([, f]) => text.includes(f));
        if (form) hits.push({ where, secret: s.name, form: form[0] });
      }
    }
    return hits;
  }

  /** Throws when any secret was found, listing where (never the value). */
  assertClean(): void {
    const hits = this.hits();
    if (hits.length === 0) return;
    const lines = hits.map((h) => `  ${h.secret} (${h.form}) in ${h.where}`);
    throw new Error(`keyring values leaked (${hits.length}):\n${lines.join('\n')}`);
  }
}
