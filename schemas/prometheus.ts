// The Prometheus text exposition format (version 0.0.4): counters, gauges and histograms with
// labels, and a registry that renders them. The controller's GET /metrics and the agent's metrics
// endpoint both use it, so it lives with the other shapes both sides put on the wire; like the rest
// of schemas/ it imports nothing of ours, and it does no I/O and reads no clock.
//
// Cost: an update is one Map lookup by the joined label values, plus for a histogram a scan of its
// few fixed buckets: constant per observation, whatever has been observed before. Series are never
// removed, so label values must come from a bounded set (route patterns, status classes, host
// names), never from raw URLs or ids.

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type LabelValues = Readonly<Record<string, string | number>>;
/** A value read at scrape time, with its labels. */
export type CollectedSample = readonly [value: number, labels?: LabelValues];

export interface FamilyOptions {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

export interface CollectedOptions extends FamilyOptions {
  /**
   * Read the samples at scrape time instead of keeping them (a gauge of current state, or a
   * counter kept elsewhere): the family then shows exactly what this returns.
   */
  collect?: () => Iterable<CollectedSample>;
}

export interface HistogramOptions extends FamilyOptions {
  /** Upper bounds, ascending and finite; +Inf is implied. */
  buckets: readonly number[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** `{a="1",b="2"}` (empty for no labels); `extra` is appended (a histogram's le). */
function labelText(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i])}"`);
  if (extra !== undefined) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

abstract class Family<S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** Series by their joined label values, in first-seen order (the order they are rendered in). */
  protected readonly series = new Map<string, { values: string[]; state: S }>();

  constructor(options: FamilyOptions, readonly type: 'counter' | 'gauge' | 'histogram') {
    if (!METRIC_NAME.test(options.name)) throw new Error(`invalid metric name '${options.name}'`);
    for (const l of options.labelNames ?? []) {
      if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new Error(`invalid label name '${l}' in ${options.name}`);
    }
    this.name = options.name;
    this.help = options.help;
    this.labelNames = options.labelNames ?? [];
  }

  protected state(labels: LabelValues | undefined, fresh: () => S): S {
    const values = this.labelNames.map((n) => String(labels?.[n] ?? ''));
    const key = values.join('\u0000');
    let entry = this.series.get(key);
    if (!entry) this.series.set(key, (entry = { values, state: fresh() }));
    return entry.state;
  }

  render(): string {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`, ...this.lines()].join('\n');
  }

  protected abstract lines(): string[];
}

/** A counter or a gauge: one number per series, kept here or read by `collect` at scrape time. */
class ValueFamily extends Family<{ v: number }> {
  constructor(options: CollectedOptions, type: 'counter' | 'gauge', private readonly collect?: () => Iterable<CollectedSample>) {
    super(options, type);
    // A family without labels shows 0 before its first update, as client libraries do.
    if (!collect && !this.labelNames.length) this.state(undefined, () => ({ v: 0 }));
  }

  protected add(by: number, labels?: LabelValues): void {
    this.state(labels, () => ({ v: 0 })).v += by;
  }

  protected put(value: number, labels?: LabelValues): void {
    this.state(labels, () => ({ v: 0 })).v = value;
  }

  protected lines(): string[] {
    if (this.collect) {
      return [...this.collect()].map(([v, labels]) =>
        `${this.name}${labelText(this.labelNames, this.labelNames.map((n) => String(labels?.[n] ?? '')))} ${formatValue(v)}`);
    }
    return [...this.series.values()].map(({ values, state }) => `${this.name}${labelText(this.labelNames, values)} ${formatValue(state.v)}`);
  }
}

export class Counter extends ValueFamily {
  constructor(options: CollectedOptions) {
    super(options, 'counter', options.collect);
  }

  inc(by = 1, labels?: LabelValues): void {
    if (!(by >= 0)) throw new Error(`${this.name}: a counter only goes up (got ${by})`);
    this.add(by, labels);
  }
}

export class Gauge extends ValueFamily {
  constructor(options: CollectedOptions) {
    super(options, 'gauge', options.collect);
  }

  set(value: number, labels?: LabelValues): void {
    this.put(value, labels);
  }

  inc(by = 1, labels?: LabelValues): void {
    this.add(by, labels);
  }
}

interface HistogramState {
  /** Observations per bucket (not cumulative; rendering adds them up). */
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Family<HistogramState> {
  readonly buckets: readonly number[];
  private readonly bounds: string[];

  constructor(options: HistogramOptions) {
    super(options, 'histogram');
    if (this.labelNames.includes('le')) throw new Error(`${options.name}: 'le' is reserved in histograms`);
    const b = options.buckets;
    if (!b.length || b.some((x, i) => !Number.isFinite(x) || (i > 0 && x <= b[i - 1]))) {
      throw new Error(`${options.name}: buckets must be finite and ascending`);
    }
    this.buckets = [...b];
    this.bounds = this.buckets.map(formatValue);
    if (!this.labelNames.length) this.state(undefined, () => this.fresh());
  }

  observe(value: number, labels?: LabelValues): void {
    const s = this.state(labels, () => this.fresh());
    for (let i = 0; i < this.buckets.length; i++) {
      if (value <= this.buckets[i]) {
        s.counts[i]++;
        break;
      }
    }
    s.sum += value;
    s.count++;
  }

  private fresh(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  protected lines(): string[] {
    const out: string[] = [];
    for (const { values, state } of this.series.values()) {
      let cumulative = 0;
      state.counts.forEach((c, i) => {
        cumulative += c;
        out.push(`${this.name}_bucket${labelText(this.labelNames, values, `le="${this.bounds[i]}"`)} ${cumulative}`);
      });
      out.push(`${this.name}_bucket${labelText(this.labelNames, values, 'le="+Inf"')} ${state.count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, values)} ${formatValue(state.sum)}`);
      out.push(`${this.name}_count${labelText(this.labelNames, values)} ${state.count}`);
    }
    return out;
  }
}

/** The families of one process, rendered in the order they were made. */
export class MetricsRegistry {
  private readonly families = new Map<string, Family<unknown>>();

  counter(options: CollectedOptions): Counter {
    return this.add(new Counter(options));
  }

  gauge(options: CollectedOptions): Gauge {
    return this.add(new Gauge(options));
  }

  histogram(options: HistogramOptions): Histogram {
    return this.add(new Histogram(options));
  }

  /** The whole exposition, ending with a newline. */
  render(): string {
    return [...this.families.values()].map((f) => `${f.render()}\n`).join('');
  }

  private add<F extends Family<any>>(family: F): F {
    if (this.families.has(family.name)) throw new Error(`metric ${family.name} is defined twice`);
    this.families.set(family.name, family);
    return family;
  }
}

/** Latency buckets in seconds, 1 ms to 60 s (API requests may wait up to 60 s for the dataplane). */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;
