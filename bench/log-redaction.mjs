// Cost of scrubbing log lines of keyring values (kernel/redact.ts), per line.
// Usage: npx tsc -p tsconfig.json && node bench/log-redaction.mjs [secrets=50]
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { scrubLogLine, setRedactionValues } from '../dist/kernel/redact.js';
import { createLogger } from '../dist/kernel/logger.js';

const n = Number(process.argv[2] ?? 50);
const secrets = Array.from({ length: n }, () => `sk-${randomBytes(16).toString('hex')}`);
const line =
  JSON.stringify({
    level: 'INFO',
    timestamp: new Date().toISOString(),
    request_id: 'f3b0c1d2-0000-4000-8000-123456789abc',
    method: 'POST',
    path: '/v1/chat/completions',
    route: 'litellm',
    status: 200,
    duration_ms: 12.345,
    generation: 3,
    message: 'request',
  }) + '\n';

function time(label, fn, iters = 200_000) {
  for (let i = 0; i < 10_000; i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) fn();
  const ns = Number(process.hrtime.bigint() - t0) / iters;
  console.log(`${label.padEnd(48)} ${ns.toFixed(0).padStart(6)} ns/line`);
}

setRedactionValues([]);
time('scrubLogLine, empty keyring', () => scrubLogLine(line));
setRedactionValues(secrets);
time(`scrubLogLine, ${n} secrets, clean line`, () => scrubLogLine(line));
const dirty = line.replace('/v1/chat/completions', `/v1/x?k=${secrets[n - 1]}`);
time(`scrubLogLine, ${n} secrets, line with a secret`, () => scrubLogLine(dirty), 50_000);

const sink = new Writable({
  write(_c, _e, cb) {
    cb();
  },
});
// level set explicitly: bench/run.mjs exports ATI_LOG=warn, which would turn info() into a no-op here.
const log = createLogger({ level: 'info', destination: sink });
const fields = { request_id: 'f3b0c1d2', method: 'POST', path: '/v1/chat/completions', status: 200, duration_ms: 12.3 };
time(`pino logger.info + scrub, ${n} secrets`, () => log.info(fields, 'request'));

const { default: pino } = await import('pino');
// The same options as kernel/logger.ts minus the scrub hook.
const plain = pino(
  {
    base: undefined,
    messageKey: 'message',
    timestamp: () => `,"timestamp":"${new Date().toISOString()}"`,
    formatters: { level: (label) => ({ level: label.toUpperCase() }) },
  },
  sink,
);
time('same logger without the scrub hook (baseline)', () => plain.info(fields, 'request'));
