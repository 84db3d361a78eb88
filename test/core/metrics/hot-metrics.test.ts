import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { HotCounter, HotHistogram } from '../../../core/metrics/hot-metrics.js';

const BUCKETS = [0.001, 0.01, 0.1, 1];
const VALUES = [0.0005, 0.001, 0.002, 0.05, 0.5, 0.5, 3, 0];

/** Renders one metric family as Prometheus text, with the metric name normalised. */
async function exposition(registry: Registry): Promise<string> {
  return (await registry.metrics()).replace(/(hot|ref)_/g, 'x_');
}

describe('hot metric cells', () => {
  it('a HotHistogram exposes exactly what prom-client observe() would', async () => {
    const refReg = new Registry();
    const hotReg = new Registry();
    const ref = new Histogram({
      name: 'ref_seconds',
      help: 'h',
      labelNames: ['route'],
      buckets: BUCKETS,
      registers: [refReg],
    });
    const cells: { h?: HotHistogram<'route'> } = {};
    const hist = new Histogram({
      name: 'hot_seconds',
      help: 'h',
      labelNames: ['route'],
      buckets: BUCKETS,
      registers: [hotReg],
      collect: (): void => cells.h!.flush(),
    });
    cells.h = new HotHistogram(hist);
    for (const v of VALUES) {
      ref.observe({ route: 'a' }, v);
      cells.h.observe('a', { route: 'a' }, v);
    }
    ref.observe({ route: '/b/:x' }, 0.2);
    cells.h.observe('/b/:x', { route: '/b/:x' }, 0.2);
    expect(await exposition(hotReg)).toBe(await exposition(refReg));
    // A second scrape adds only what was observed since (no double counting), merged with direct observes.
    ref.observe({ route: 'a' }, 0.02);
    hist.observe({ route: 'a' }, 0.07);
    ref.observe({ route: 'a' }, 0.07);
    cells.h.observe('a', { route: 'a' }, 0.02);
    expect(await exposition(hotReg)).toBe(await exposition(refReg));
    expect(await exposition(hotReg)).toContain('x_seconds_count{route="a"} 10');
  });

  it('a HotCounter exposes exactly what prom-client inc() would, across scrapes and a reset', async () => {
    const refReg = new Registry();
    const hotReg = new Registry();
    const ref = new Counter({ name: 'ref_total', help: 'c', labelNames: ['method', 'status'], registers: [refReg] });
    const cells: { c?: HotCounter<'method' | 'status'> } = {};
    const counter = new Counter({
      name: 'hot_total',
      help: 'c',
      labelNames: ['method', 'status'],
      registers: [hotReg],
      collect: (): void => cells.c!.flush(),
    });
    cells.c = new HotCounter(counter);
    const hits: Array<[string, number]> = [
      ['GET', 200],
      ['GET', 200],
      ['POST', 404],
      ['GET', 500],
    ];
    for (const [method, status] of hits) {
      ref.inc({ method, status });
      cells.c.inc(`${status} ${method}`, { method, status });
    }
    expect(await exposition(hotReg)).toBe(await exposition(refReg));
    expect(await exposition(hotReg)).toContain('x_total{method="GET",status="200"} 2');
    counter.reset();
    ref.reset();
    cells.c.inc('200 GET', { method: 'GET', status: 200 });
    ref.inc({ method: 'GET', status: 200 });
    expect(await exposition(hotReg)).toBe(await exposition(refReg));
  });
});
