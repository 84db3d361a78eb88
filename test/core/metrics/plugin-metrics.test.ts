/**
 * Plugin counters (`ProvisionContext.metrics`): named `ati_<handler>_<name>`,
 * labelled with the provider only, shared across providers and reloads, and
 * unable to shadow a host metric.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { registry } from '../../../core/metrics/metrics.js';
import { pluginMetrics } from '../../../core/metrics/plugin-metrics.js';
import { definePlugin, PLUGIN_API_VERSION } from '../../../core/plugin/contract.js';
import { toolFromManifest } from '../../../core/tools/tool-definition.js';
import { makeAtiDir, type TempAtiDir } from '../../helpers/ati-dir.js';
import { startHost, type TestHost } from '../../helpers/host.js';

async function sample(name: string, provider: string): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return undefined;
  const { values } = await metric.get();
  return values.find((v) => v.labels['provider'] === provider)?.value;
}

describe('plugin counters', () => {
  let dir: TempAtiDir | undefined;
  let th: TestHost | undefined;
  afterEach(async () => {
    await th?.close();
    th = undefined;
    await dir?.cleanup();
  });

  it('prefixes the handler name, labels the provider, and returns the same counter for the same name', async () => {
    const a = pluginMetrics('my-handler', 'alpha').counter('widgets_total', 'Widgets made');
    const b = pluginMetrics('my-handler', 'beta').counter('widgets_total', 'Widgets made');
    a.inc();
    a.inc(2);
    b.inc();
    expect(await sample('ati_my_handler_widgets_total', 'alpha')).toBe(3);
    expect(await sample('ati_my_handler_widgets_total', 'beta')).toBe(1);
    const again = pluginMetrics('my-handler', 'alpha').counter('widgets_total', 'Widgets made');
    again.inc();
    expect(await sample('ati_my_handler_widgets_total', 'alpha')).toBe(4);
    const text = await registry.metrics();
    expect(text).toContain('# HELP ati_my_handler_widgets_total Widgets made');
    expect(text).toContain('ati_my_handler_widgets_total{provider="alpha"} 4');
  });

  it('refuses a bad name, a host metric name and a second help text (ATI_ERR_PLUGIN)', () => {
    const m = pluginMetrics('http', 'p');
    for (const bad of ['Widgets_total', 'widgets', 'widgets-made_total', '']) {
      expect(() => m.counter(bad, 'h'), bad).toThrow(expect.objectContaining({ code: 'ATI_ERR_PLUGIN' }));
    }
    expect(() => m.counter('requests_total', 'h')).toThrow(
      /ati_http_requests_total would replace one of the host's metrics/,
    );
    pluginMetrics('other', 'p').counter('things_total', 'Things');
    expect(() => pluginMetrics('other', 'q').counter('things_total', 'Other things')).toThrow(
      /ati_other_things_total already exists with another help text/,
    );
  });

  it('reach a plugin through ProvisionContext.metrics with the provider filled in, across a reload', async () => {
    const plugin = definePlugin({
      apiVersion: PLUGIN_API_VERSION,
      name: 'counting',
      version: '1.0.0',
      providerSchema: {},
      async provision(m, ctx) {
        ctx.metrics.counter('provisions_total', 'Provisions of counting providers').inc();
        return {
          tools: m.tools.map((t) => toolFromManifest(m, t)),
          async call() {
            return { value: null };
          },
          async close() {},
        };
      },
    });
    const manifest = (name: string, rev: number) =>
      `[provider]\nname = "${name}"\ndescription = "rev ${rev}"\nhandler = "counting"\n\n[[tools]]\nname = "${name}_t"\ndescription = "t"\n`;
    dir = await makeAtiDir({ 'manifests/one.toml': manifest('one', 1), 'manifests/two.toml': manifest('two', 1) });
    th = await startHost(dir.dir, [plugin]);
    await dir.manifest('one', manifest('one', 2));
    expect(await th.host.reload('test')).toMatchObject({ status: 'applied', provisioned: ['one'], reused: ['two'] });
    expect(await sample('ati_counting_provisions_total', 'one')).toBe(2);
    expect(await sample('ati_counting_provisions_total', 'two')).toBe(1);
  });
});
