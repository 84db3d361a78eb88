/**
 * The official MCP conformance suite (`@modelcontextprotocol/conformance`,
 * `conformance server --suite all`) run against the real `bin/ati proxy`'s
 * `/mcp`, with the suite's reference server (our port in
 * test/fixtures/mcp/conformance-server.mjs) as the upstream MCP provider behind
 * it, once over Streamable HTTP and once as a stdio child. The provider exposes
 * its tools unprefixed (`tool_prefix = ""`), since the scenarios call them by
 * their own names. Every scenario must pass, sampling and elicitation included
 * (the proxy relays them to the client over its session).
 */
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: plain JavaScript fixture
import { startConformanceHttpServer } from '../fixtures/mcp/conformance-server.mjs';
// @ts-expect-error: plain JavaScript script
import { runConformance, table } from '../../scripts/mcp-conformance/run.mjs';
import { makeAtiDir, type TempAtiDir } from '../helpers/ati-dir.js';
import { startProxy, type ProxyProcess } from '../helpers/proxy-process.js';
import { CONFORMANCE_SERVER } from '../plugins/mcp/helpers.js';

interface Row {
  scenario: string;
  pass: boolean;
  passed: number;
  failed: number;
  warnings: number;
  errors: string[];
}

/** Every server scenario of conformance 0.1.16 (`conformance list --server`, suite "all"). */
const SCENARIOS = [
  'completion-complete',
  'dns-rebinding-protection',
  'elicitation-sep1034-defaults',
  'elicitation-sep1330-enums',
  'json-schema-2020-12',
  'logging-set-level',
  'ping',
  'prompts-get-embedded-resource',
  'prompts-get-simple',
  'prompts-get-with-args',
  'prompts-get-with-image',
  'prompts-list',
  'resources-list',
  'resources-read-binary',
  'resources-read-text',
  'resources-subscribe',
  'resources-templates-read',
  'resources-unsubscribe',
  'server-initialize',
  'server-sse-multiple-streams',
  'server-sse-polling',
  'tools-call-audio',
  'tools-call-elicitation',
  'tools-call-embedded-resource',
  'tools-call-error',
  'tools-call-image',
  'tools-call-mixed-content',
  'tools-call-sampling',
  'tools-call-simple-text',
  'tools-call-with-logging',
  'tools-call-with-progress',
  'tools-list',
];

describe('MCP conformance suite through the proxy', () => {
  let dir: TempAtiDir | undefined;
  let proxy: ProxyProcess | undefined;
  let upstream: { url: string; close(): Promise<void> } | undefined;

  afterEach(async () => {
    await proxy?.stop('SIGTERM');
    proxy = undefined;
    await upstream?.close();
    upstream = undefined;
    await dir?.cleanup();
    dir = undefined;
  });

  async function suite(manifest: string): Promise<Row[]> {
    dir = await makeAtiDir({ 'manifests/conf.toml': manifest });
    proxy = await startProxy({ atiDir: dir.dir, args: ['--no-watch'] });
    await proxy.waitForLog((l) => l.message === 'MCP tools discovered');
    const r = (await runConformance({ url: `${proxy.url}/mcp`, timeoutMs: 150_000 })) as {
      code: number;
      rows: Row[];
      output: string;
    };
    console.log(table(r.rows));
    expect(r.rows.map((x) => x.scenario).sort()).toEqual(SCENARIOS);
    expect(r.rows.filter((x) => !x.pass)).toEqual([]);
    expect(r.code, r.output).toBe(0);
    return r.rows;
  }

  const base = `[provider]\nname = "conf"\ndescription = "the conformance suite's reference server"\nhandler = "mcp"\ntool_prefix = ""\n`;

  it('passes every scenario with a Streamable HTTP upstream', async () => {
    upstream = (await startConformanceHttpServer()) as { url: string; close(): Promise<void> };
    await suite(`${base}mcp_transport = "http"\nmcp_url = "${upstream.url}"\n`);
  }, 200_000);

  it('passes every scenario with a stdio upstream', async () => {
    await suite(
      `${base}mcp_transport = "stdio"\nmcp_command = ${JSON.stringify(process.execPath)}\nmcp_args = [${JSON.stringify(CONFORMANCE_SERVER)}, "stdio"]\n`,
    );
  }, 200_000);
});
