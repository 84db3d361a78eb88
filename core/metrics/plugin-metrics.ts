/**
 * Counters handler plugins expose on `/metrics` (`ProvisionContext.metrics`).
 * A plugin names a counter; the host prefixes it with `ati_<handler>_` and
 * gives it exactly one label, `provider`, filled in with the provider being
 * provisioned — so a plugin cannot put arguments, URLs or other unbounded
 * values in labels, and a counter's series are at most one per provider.
 * Counters live in the process registry: they keep counting across reloads.
 */
import { Counter } from 'prom-client';
import { AtiError } from '../../kernel/errors.js';
import type { PluginCounter, PluginMetrics } from '../plugin/contract.js';
import { registry } from './metrics.js';

const NAME = /^[a-z][a-z0-9_]*_total$/;

/** Counters created for plugins, by full metric name. */
const counters = new Map<string, { help: string; counter: Counter<'provider'> }>();

/** The `metrics` of a ProvisionContext: counters of handler `handler`, labelled with `provider`. */
export function pluginMetrics(handler: string, provider: string): PluginMetrics {
  return {
    counter(name: string, help: string): PluginCounter {
      const counter = pluginCounter(handler, name, help);
      return { inc: (by = 1) => counter.inc({ provider }, by) };
    },
  };
}

function pluginCounter(handler: string, name: string, help: string): Counter<'provider'> {
  if (!NAME.test(name)) {
    throw new AtiError(
      'ATI_ERR_PLUGIN',
      `handler plugin "${handler}": counter name "${name}" must be lower-case letters, digits and _ and end in _total`,
    );
  }
  const full = `ati_${handler.replace(/-/g, '_')}_${name}`;
  const known = counters.get(full);
  if (known) {
    if (known.help !== help) {
      throw new AtiError(
        'ATI_ERR_PLUGIN',
        `handler plugin "${handler}": counter ${full} already exists with another help text`,
      );
    }
    return known.counter;
  }
  if (registry.getSingleMetric(full)) {
    throw new AtiError(
      'ATI_ERR_PLUGIN',
      `handler plugin "${handler}": counter ${full} would replace one of the host's metrics`,
    );
  }
  const counter = new Counter({ name: full, help, labelNames: ['provider'] as const, registers: [registry] });
  counters.set(full, { help, counter });
  return counter;
}
