/**
 * Request-path metric cells. prom-client hashes the label object on every
 * `inc`/`observe` (sorting label names, building a key string, validating
 * labels): about 0.5–1 µs each, several times per request. On the request
 * path we instead bump plain numbers in a cell found by a string key the
 * caller already has, and fold the cells into the prom-client metric when it
 * is collected (prom-client calls `collect()` before every read: `/metrics`,
 * `registry.getSingleMetric(…).get()`). The exposition is unchanged.
 */
import type { Counter, Histogram } from 'prom-client';

type Labels<L extends string> = Partial<Record<L, string | number>>;

interface CounterCell<L extends string> {
  labels: Labels<L>;
  pending: number;
}

/** Counter increments buffered per label set; flushed into `counter` at collect time. */
export class HotCounter<L extends string> {
  private readonly cells = new Map<string, CounterCell<L>>();

  constructor(readonly counter: Counter<L>) {}

  /** Adds 1 to the series `key` names (one key per label set); `labels` is kept the first time a key is seen. */
  inc(key: string, labels: Labels<L>): void {
    let cell = this.cells.get(key);
    if (cell === undefined) {
      cell = { labels, pending: 0 };
      this.cells.set(key, cell);
    }
    cell.pending++;
  }

  /** Folds the buffered increments into the prom-client counter (its `collect` hook). */
  flush(): void {
    for (const cell of this.cells.values()) {
      if (cell.pending === 0) continue;
      this.counter.inc(cell.labels, cell.pending);
      cell.pending = 0;
    }
  }
}

interface HistogramCell<L extends string> {
  labels: Labels<L>;
  /** Observations per bucket index (`upperBounds[i]`), not cumulative; the last slot is +Inf. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

/** The prom-client histogram internals `flush` merges into (stable across prom-client 15). */
interface HistogramInternals {
  hashMap: Record<
    string,
    { labels: Record<string, unknown>; bucketValues: Record<string, number>; sum: number; count: number }
  >;
  upperBounds: number[];
}

/** Histogram observations aggregated per label set; merged into `histogram` at collect time. */
export class HotHistogram<L extends string> {
  private readonly cells = new Map<string, HistogramCell<L>>();
  private readonly bounds: number[];

  constructor(readonly histogram: Histogram<L>) {
    this.bounds = (histogram as unknown as HistogramInternals).upperBounds;
  }

  /** Records `value` for the series `key` names; `labels` is kept the first time a key is seen. */
  observe(key: string, labels: Labels<L>, value: number): void {
    let cell = this.cells.get(key);
    if (cell === undefined) {
      cell = { labels, buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
      this.cells.set(key, cell);
    }
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    cell.buckets[i]!++;
    cell.sum += value;
    cell.count++;
  }

  /** Merges the aggregated observations into the prom-client histogram (its `collect` hook). */
  flush(): void {
    const h = this.histogram as unknown as HistogramInternals;
    for (const cell of this.cells.values()) {
      if (cell.count === 0) continue;
      let entry = findEntry(h, cell.labels);
      if (entry === undefined) {
        this.histogram.zero(cell.labels);
        entry = findEntry(h, cell.labels)!;
      }
      // prom-client keeps per-bucket (non-cumulative) counts keyed by upper bound; +Inf is implied by count.
      for (let i = 0; i < this.bounds.length; i++) {
        const n = cell.buckets[i]!;
        if (n !== 0) entry.bucketValues[this.bounds[i]!] = (entry.bucketValues[this.bounds[i]!] ?? 0) + n;
      }
      entry.sum += cell.sum;
      entry.count += cell.count;
      cell.buckets.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
  }
}

function findEntry(
  h: HistogramInternals,
  labels: Record<string, unknown>,
): HistogramInternals['hashMap'][string] | undefined {
  const names = Object.keys(labels);
  for (const e of Object.values(h.hashMap)) {
    if (names.every((n) => e.labels[n] === labels[n]) && Object.keys(e.labels).length === names.length) return e;
  }
  return undefined;
}
