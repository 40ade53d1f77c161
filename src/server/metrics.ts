// Prometheus metrics for one server, in its own prom-client Registry (so several servers in one process,
// as in tests, never collide): request counts and latency by route template and status, store size, and
// the default process metrics.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from './store.js';

export interface ServerMetrics {
  registry: Registry;
  observe(method: string, route: string, status: number, seconds: number): void;
}

export function createMetrics(store: Store): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'opsync_' });
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({
    name: 'opsync_http_requests_total',
    help: 'HTTP requests served, by method, route template and status code.',
    labelNames,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'opsync_http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by method, route template and status code.',
    labelNames,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: 'opsync_store_size_bytes',
    help: 'Size of the SQLite store in bytes (pages in use).',
    registers: [registry],
    collect() {
      if (store.open) this.set(store.sizeBytes());
    },
  });
  new Gauge({
    name: 'opsync_store_items',
    help: 'Items held in the store, across all vaults.',
    registers: [registry],
    collect() {
      if (store.open) this.set(store.countItems());
    },
  });
  // Each series' children, found once: looking them up by a labels object cost more than counting.
  const series = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();
  return {
    registry,
    observe(method, route, status, seconds) {
      const key = `${method} ${status} ${route}`;
      let s = series.get(key);
      if (!s) {
        const labels = { method, route, status: String(status) };
        s = { count: requests.labels(labels), time: latency.labels(labels) };
        series.set(key, s);
      }
      s.count.inc();
      s.time.observe(seconds);
    },
  };
}
