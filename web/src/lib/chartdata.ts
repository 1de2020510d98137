// Chart definitions and the data plumbing behind them: a ~10 minute live
// buffer fed by the SSE stream, and /api/history responses aligned for uPlot.

import type { History, HistoryPoint, Sample } from './types';

export type ChartName = 'cpu' | 'memory' | 'net' | 'disk';
/** `number`: a plain quantity (latency in ms, ...) drawn from 0 with the chart's own `format`. */
export type ChartKind = 'percent' | 'bytes' | 'rate' | 'number';

export interface LineDef {
  label: string;
  /** CSS custom property holding the line colour. */
  color: string;
  /** History metric name, or null when the line is only in the live stream. */
  metric: string | null;
  pick: (s: Sample) => number | null;
}

export interface ChartDef {
  name: ChartName;
  title: string;
  kind: ChartKind;
  lines: LineDef[];
}

/**
 * The lines a chart has in history mode: those backed by a history metric the
 * backend lists in /api/history/metrics (all of them while that is unknown).
 */
export function historyLines(def: ChartDef, available: ReadonlySet<string> | null): LineDef[] {
  return def.lines.filter((l) => l.metric !== null && (available === null || available.has(l.metric)));
}

export const charts: ChartDef[] = [
  {
    name: 'cpu',
    title: 'CPU',
    kind: 'percent',
    lines: [
      { label: 'busy', color: '--chart-1', metric: 'cpu.total', pick: (s) => s.cpu.total.busy },
      { label: 'iowait', color: '--chart-3', metric: 'cpu.iowait', pick: (s) => s.cpu.total.iowait },
    ],
  },
  {
    name: 'memory',
    title: 'Memory',
    kind: 'bytes',
    lines: [
      { label: 'used', color: '--chart-2', metric: 'mem.used', pick: (s) => s.memory.used },
      { label: 'cache', color: '--chart-4', metric: 'mem.cached', pick: (s) => s.memory.cached },
    ],
  },
  {
    name: 'net',
    title: 'Network',
    kind: 'rate',
    lines: [
      { label: 'rx', color: '--chart-1', metric: 'net.rx', pick: (s) => s.net_total.rx_bps },
      { label: 'tx', color: '--chart-2', metric: 'net.tx', pick: (s) => s.net_total.tx_bps },
    ],
  },
  {
    name: 'disk',
    title: 'Disk I/O',
    kind: 'rate',
    lines: [
      { label: 'read', color: '--chart-1', metric: 'disk.read', pick: (s) => s.disk_total.read_bps },
      { label: 'write', color: '--chart-3', metric: 'disk.write', pick: (s) => s.disk_total.write_bps },
    ],
  },
];

/**
 * The span of each range a chart can show, in seconds: the app's own ranges (`live`, `1h`, ...) and
 * Proxmox's RRD timeframes (`hour`, `day`, ...). Every chart draws the window [now - span, now], so
 * "last 10 min" is ten minutes wide whatever the data holds (one point, none, a gap).
 */
export const RANGE_SECONDS: Readonly<Record<string, number>> = {
  live: 600,
  '1h': 3600,
  '6h': 6 * 3600,
  '24h': 86400,
  '7d': 7 * 86400,
  '30d': 30 * 86400,
  '1y': 365 * 86400,
  hour: 3600,
  day: 86400,
  week: 7 * 86400,
  month: 30 * 86400,
  year: 365 * 86400,
};

/** "live, last 10 min", "last 24 h", ...: the words for a range, for chart headers. */
export function rangeText(range: string): string {
  const s = RANGE_SECONDS[range];
  if (s == null) return range;
  const span = s < 3600 ? `${s / 60} min` : s < 2 * 86400 ? `${s / 3600} h` : s < 365 * 86400 ? `${Math.round(s / 86400)} days` : 'year';
  return range === 'live' ? `live, last ${span}` : `last ${span}`;
}

/**
 * The x window (unix seconds) a chart of `range` shows at `now`: [now - span, now], stretched to
 * the newest point if that is ahead of `now` (clock skew). Unknown ranges: the data's extent, at
 * least a minute wide. Null when there is nothing to place.
 */
export function xWindow(range: string, now: number, dataMin: number | null, dataMax: number | null): [number, number] | null {
  const span = RANGE_SECONDS[range];
  if (span != null) {
    const end = Math.max(now, dataMax ?? -Infinity);
    return [end - span, end];
  }
  if (dataMin == null || dataMax == null) return null;
  return dataMax - dataMin < 60 ? [dataMax - 60, dataMax] : [dataMin, dataMax];
}

/** Whether a chart's data has at least one drawable value. */
export function hasValues(d: ChartData): boolean {
  return d.ys.some((y) => y.some((v) => v != null));
}

/** What a chart draws: x in unix seconds, one y array per line, optional min/max bands. */
export interface ChartData {
  x: number[];
  ys: (number | null)[][];
  bands: { min: (number | null)[]; max: (number | null)[] }[] | null;
}

export const emptyData = (lines: number): ChartData => ({
  x: [],
  ys: Array.from({ length: lines }, () => []),
  bands: null,
});

/** Seconds of live data kept client side. */
export const LIVE_WINDOW_S = RANGE_SECONDS.live ?? 600;

/** Column buffer for one chart in live mode. */
export class LiveBuffer {
  x: number[] = [];
  ys: (number | null)[][];

  constructor(readonly def: ChartDef) {
    this.ys = def.lines.map(() => []);
  }

  push(s: Sample): void {
    const t = s.ts / 1000;
    const last = this.x[this.x.length - 1];
    if (last !== undefined && t <= last) return;
    // A hole in the stream (host or network gone for a while) becomes a gap in
    // the line instead of a straight segment across it.
    if (last !== undefined && t - last > Math.max(5, 5 * s.interval_s)) {
      this.x.push(last + s.interval_s);
      for (const y of this.ys) y.push(null);
    }
    this.x.push(t);
    this.def.lines.forEach((l, i) => this.ys[i]?.push(l.pick(s)));
    this.trim(t);
  }

  /** Prepend history points (range=live) older than anything streamed so far. */
  seed(byMetric: Map<string, HistoryPoint[]>): void {
    const first = this.x[0] ?? Infinity;
    const rows = new Map<number, (number | null)[]>();
    this.def.lines.forEach((l, i) => {
      const pts = l.metric ? byMetric.get(l.metric) : undefined;
      for (const p of pts ?? []) {
        if (p[0] >= first) continue;
        let row = rows.get(p[0]);
        if (!row) {
          row = this.def.lines.map(() => null);
          rows.set(p[0], row);
        }
        row[i] = p[1];
      }
    });
    const ts = [...rows.keys()].sort((a, b) => a - b);
    this.x = [...ts, ...this.x];
    this.ys = this.ys.map((y, i) => [...ts.map((t) => rows.get(t)?.[i] ?? null), ...y]);
    const lastX = this.x[this.x.length - 1];
    if (lastX !== undefined) this.trim(lastX);
  }

  private trim(now: number): void {
    let cut = 0;
    while (cut < this.x.length && (this.x[cut] ?? 0) < now - LIVE_WINDOW_S) cut++;
    if (cut > 0) {
      this.x.splice(0, cut);
      for (const y of this.ys) y.splice(0, cut);
    }
  }

  snapshot(): ChartData {
    return { x: this.x.slice(), ys: this.ys.map((y) => y.slice()), bands: null };
  }
}

/** Align several /api/history answers (one per line, in order) on their timestamps. */
export function alignHistory(lines: LineDef[], answers: (History | null)[]): ChartData {
  const ts = new Set<number>();
  for (const a of answers) for (const p of a?.points ?? []) ts.add(p[0]);
  const x = [...ts].sort((a, b) => a - b);
  const index = new Map(x.map((t, i) => [t, i]));
  const ys: (number | null)[][] = [];
  const bands: { min: (number | null)[]; max: (number | null)[] }[] = [];
  lines.forEach((_, i) => {
    const avg: (number | null)[] = new Array<number | null>(x.length).fill(null);
    const min: (number | null)[] = new Array<number | null>(x.length).fill(null);
    const max: (number | null)[] = new Array<number | null>(x.length).fill(null);
    for (const p of answers[i]?.points ?? []) {
      const j = index.get(p[0]);
      if (j === undefined) continue;
      avg[j] = p[1];
      min[j] = p[2];
      max[j] = p[3];
    }
    ys.push(avg);
    bands.push({ min, max });
  });
  return { x, ys, bands };
}
