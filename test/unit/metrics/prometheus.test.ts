import { describe, expect, it } from 'vitest';
import { MetricsRegistry, formatValue } from '../../../schemas/prometheus.ts';

// The Prometheus text format as the controller and the agent render it: a golden exposition of
// every family type, escaping, and the checks that keep the output valid.

describe('metrics registry', () => {
  it('renders counters, gauges and histograms in the text format (golden)', () => {
    const r = new MetricsRegistry();
    const requests = r.counter({ name: 'demo_requests_total', help: 'Requests by route.\nSecond line \\ here.', labelNames: ['method', 'route'] });
    r.counter({ name: 'demo_untouched_total', help: 'Never incremented: shows 0.' });
    const temp = r.gauge({ name: 'demo_temperature', help: 'A set gauge.' });
    r.gauge({ name: 'demo_agents', help: 'Read at scrape time.', labelNames: ['state'], collect: () => [[2, { state: 'alive' }], [0, { state: 'down' }]] });
    const latency = r.histogram({ name: 'demo_latency_seconds', help: 'Latency.', labelNames: ['route'], buckets: [0.01, 0.1, 1] });
    const plain = r.histogram({ name: 'demo_plain_seconds', help: 'No labels, no observations.', buckets: [0.5] });

    requests.inc(1, { method: 'GET', route: '/v2.0/ports/:id' });
    requests.inc(2, { method: 'GET', route: '/v2.0/ports/:id' });
    requests.inc(1, { method: 'POST', route: 'a "quoted"\\path\nnext' });
    temp.set(-1.5);
    latency.observe(0.005, { route: '/v2.0/ports' });
    latency.observe(0.01, { route: '/v2.0/ports' }); // on a bound: in that bucket (le is "less or equal")
    latency.observe(0.5, { route: '/v2.0/ports' });
    latency.observe(7, { route: '/v2.0/ports' }); // above every bound: only +Inf
    expect(plain.buckets).toEqual([0.5]);

    expect(r.render()).toBe(`# HELP demo_requests_total Requests by route.\\nSecond line \\\\ here.
# TYPE demo_requests_total counter
demo_requests_total{method="GET",route="/v2.0/ports/:id"} 3
demo_requests_total{method="POST",route="a \\"quoted\\"\\\\path\\nnext"} 1
# HELP demo_untouched_total Never incremented: shows 0.
# TYPE demo_untouched_total counter
demo_untouched_total 0
# HELP demo_temperature A set gauge.
# TYPE demo_temperature gauge
demo_temperature -1.5
# HELP demo_agents Read at scrape time.
# TYPE demo_agents gauge
demo_agents{state="alive"} 2
demo_agents{state="down"} 0
# HELP demo_latency_seconds Latency.
# TYPE demo_latency_seconds histogram
demo_latency_seconds_bucket{route="/v2.0/ports",le="0.01"} 2
demo_latency_seconds_bucket{route="/v2.0/ports",le="0.1"} 2
demo_latency_seconds_bucket{route="/v2.0/ports",le="1"} 3
demo_latency_seconds_bucket{route="/v2.0/ports",le="+Inf"} 4
demo_latency_seconds_sum{route="/v2.0/ports"} 7.515
demo_latency_seconds_count{route="/v2.0/ports"} 4
# HELP demo_plain_seconds No labels, no observations.
# TYPE demo_plain_seconds histogram
demo_plain_seconds_bucket{le="0.5"} 0
demo_plain_seconds_bucket{le="+Inf"} 0
demo_plain_seconds_sum 0
demo_plain_seconds_count 0
`);
  });

  it('formats special values the way Prometheus parses them', () => {
    expect([Infinity, -Infinity, NaN, 0, 1e21, 0.1].map(formatValue)).toEqual(['+Inf', '-Inf', 'NaN', '0', '1e+21', '0.1']);
  });

  it('refuses what would render an invalid exposition', () => {
    const r = new MetricsRegistry();
    r.counter({ name: 'x_total', help: 'x' });
    expect(() => r.counter({ name: 'x_total', help: 'again' })).toThrow(/defined twice/);
    expect(() => r.gauge({ name: 'bad-name', help: 'x' })).toThrow(/invalid metric name/);
    expect(() => r.gauge({ name: 'g', help: 'x', labelNames: ['__reserved'] })).toThrow(/invalid label name/);
    expect(() => r.histogram({ name: 'h', help: 'x', labelNames: ['le'], buckets: [1] })).toThrow(/reserved/);
    expect(() => r.histogram({ name: 'h2', help: 'x', buckets: [1, 1] })).toThrow(/ascending/);
    expect(() => r.histogram({ name: 'h3', help: 'x', buckets: [] })).toThrow(/ascending/);
    const c = r.counter({ name: 'y_total', help: 'y' });
    expect(() => c.inc(-1)).toThrow(/only goes up/);
  });

  it('keeps the cost of an update independent of how many came before', () => {
    const r = new MetricsRegistry();
    const h = r.histogram({ name: 'busy_seconds', help: 'x', labelNames: ['route'], buckets: [0.1, 1] });
    for (let i = 0; i < 100_000; i++) h.observe(i % 3, { route: `/r${i % 4}` });
    // Four series, however many observations.
    expect(r.render().split('\n').filter((l) => l.startsWith('busy_seconds_count'))).toHaveLength(4);
  });
});
