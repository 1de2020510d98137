// Shapes of /api/monitors (generated from the Rust types in gen/) and the helpers the Services page,
// a monitor's page and the guest page share: status colours, the heartbeat's tooltips, uptime and
// latency in words, maintenance windows in words, and the field a 400 names.

import * as fmt from './format';

import type { MonitorList } from './gen/MonitorList';
import type { MonitorView } from './gen/MonitorView';
import type { MonitorSpec } from './gen/MonitorSpec';
import type { MonitorTarget } from './gen/MonitorTarget';
import type { MonitorStatus } from './gen/MonitorStatus';
import type { MonitorCheck } from './gen/MonitorCheck';
import type { MonitorDetail } from './gen/MonitorDetail';
import type { MonitorIncidentView } from './gen/MonitorIncidentView';
import type { MonitorLatency } from './gen/MonitorLatency';
import type { MonitorResults } from './gen/MonitorResults';
import type { MonitorSuggestion } from './gen/MonitorSuggestion';
import type { MonitorUptime } from './gen/MonitorUptime';
import type { MonitorCounts } from './gen/MonitorCounts';
import type { MaintenanceWindow } from './gen/MaintenanceWindow';
import type { MaintenanceWindowView } from './gen/MaintenanceWindowView';
import type { MaintenanceScope } from './gen/MaintenanceScope';
import type { MaintenanceWhen } from './gen/MaintenanceWhen';

export type {
  MonitorList,
  MonitorView,
  MonitorSpec,
  MonitorTarget,
  MonitorStatus,
  MonitorCheck,
  MonitorDetail,
  MonitorIncidentView,
  MonitorLatency,
  MonitorResults,
  MonitorSuggestion,
  MonitorUptime,
  MonitorCounts,
  MaintenanceWindow,
  MaintenanceWindowView,
  MaintenanceScope,
  MaintenanceWhen,
};

export type MonitorKind = MonitorTarget['kind'];

/** The kinds in the order the form offers them. */
export const KINDS: { kind: MonitorKind; label: string }[] = [
  { kind: 'http', label: 'HTTP(S)' },
  { kind: 'tcp', label: 'TCP port' },
  { kind: 'ping', label: 'Ping' },
  { kind: 'dns', label: 'DNS' },
  { kind: 'agent', label: 'Guest agent' },
];

export function kindLabel(kind: string): string {
  return KINDS.find((k) => k.kind === kind)?.label ?? kind;
}

/**
 * The colour class of a monitor's state or of one check (status-dot / badge / beat): up green,
 * degraded amber, down red, maintenance blue; paused, pending, a stopped guest grey.
 */
export function statusClass(status: string, maintenance = false): string {
  // A stopped guest's checks are grey (the server also marks them `maintenance`, to leave them out
  // of uptime).
  if (status === 'stopped' || status === 'guest_stopped') return 'idle';
  if (maintenance) return 'maint';
  switch (status) {
    case 'up':
      return 'ok';
    case 'degraded':
      return 'warn';
    case 'down':
      return 'crit';
    case 'maintenance':
      return 'maint';
    default:
      return 'idle';
  }
}

/** A state in words: `guest stopped`, `in maintenance`. */
export function statusText(status: string): string {
  switch (status) {
    case 'guest_stopped':
      return 'guest stopped';
    case 'maintenance':
      return 'maintenance';
    case 'stopped':
      return 'guest stopped';
    default:
      return status;
  }
}

/** Milliseconds of latency: `0.52 ms`, `3.8 ms`, `120 ms`, `1.25 s`. */
export function ms(v: number | null | undefined): string {
  if (v == null || !Number.isFinite(v)) return '—';
  if (v >= 1000) return `${(v / 1000).toFixed(2)} s`;
  if (v >= 100) return `${v.toFixed(0)} ms`;
  if (v >= 10) return `${v.toFixed(1)} ms`;
  return `${v.toFixed(2)} ms`;
}

/** An uptime percentage, never rounded up to 100 % when a check failed: `99.58 %`, `100 %`, `—`. */
export function uptime(p: number | null | undefined): string {
  if (p == null || !Number.isFinite(p)) return '—';
  if (p >= 100) return '100 %';
  return `${(Math.floor(p * 100) / 100).toFixed(2)} %`;
}

/** The level of an uptime figure, for its colour. */
export function uptimeClass(p: number | null | undefined): string {
  if (p == null) return '';
  if (p >= 99.9) return 'ok';
  if (p >= 99) return 'warn';
  return 'crit';
}

/** One beat's tooltip: "time · latency · error" (the status in words when there is no error). */
export function beatTitle(b: MonitorCheck): string {
  const parts = [fmt.full(b.ts / 1000), b.latency_ms == null ? 'no answer' : ms(b.latency_ms)];
  let what = b.error ?? (b.code != null ? `HTTP ${b.code}` : statusText(b.status));
  if (b.error && b.code != null && !b.error.includes(String(b.code))) what = `HTTP ${b.code}: ${b.error}`;
  parts.push(b.maintenance && b.status !== 'stopped' ? `${what} (maintenance)` : what);
  return parts.join(' · ');
}

/** A duration in ms, short: `6 min`, `2 h 5 min`, `3 d 4 h`, `40 s`. */
export function span(msDur: number): string {
  const s = Math.max(0, Math.round(msDur / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

export const WEEKDAYS: { key: string; label: string }[] = [
  { key: 'mon', label: 'Mon' },
  { key: 'tue', label: 'Tue' },
  { key: 'wed', label: 'Wed' },
  { key: 'thu', label: 'Thu' },
  { key: 'fri', label: 'Fri' },
  { key: 'sat', label: 'Sat' },
  { key: 'sun', label: 'Sun' },
];

/** When a window is open, in words. */
export function whenText(w: MaintenanceWhen): string {
  if (w.kind === 'once') {
    const a = w.start / 1000;
    const b = w.end / 1000;
    const sameDay = fmt.date(a) === fmt.date(b);
    return `${fmt.when(a)} – ${sameDay ? fmt.clock(b).slice(0, 5) : fmt.when(b)}`;
  }
  const days =
    w.days.length === 7 ? 'every day' : WEEKDAYS.filter((d) => w.days.includes(d.key)).map((d) => d.label).join(', ');
  return `${days} at ${w.start} (host time) for ${span(w.minutes * 60_000)}`;
}

/** What a window covers, in words; `names` gives a monitor's name by id. */
export function scopeText(s: MaintenanceScope, names: (id: number) => string | null = () => null): string {
  if (s.kind === 'all') return 'all monitors';
  if (s.kind === 'guest') return `the monitors of guest ${s.vmid}`;
  return names(s.id) ?? `monitor ${s.id}`;
}

/** Whether a one-off window is over (it stays listed until someone deletes it). */
export function windowPast(w: MaintenanceWindowView, nowMs = Date.now()): boolean {
  return w.when.kind === 'once' && w.when.end <= nowMs;
}

/**
 * The field a 400 names (`target.port: must be from 1 to 65535` → `target.port`) and the rest of the
 * message, or null when the message names none.
 */
export function fieldOf(message: string): { field: string; text: string } | null {
  const m = /^([a-z_]+(?:\.[a-z_]+)*): ([\s\S]+)$/.exec(message);
  if (!m || !m[1] || !m[2]) return null;
  return { field: m[1], text: m[2] };
}

/** A new monitor's definition with the server's defaults. */
export function blankSpec(vmid: number | null = null): MonitorSpec {
  return {
    name: '',
    target: {
      kind: 'http',
      url: '',
      status: { min: 200, max: 399 },
      keyword: null,
      json_path: null,
      json_expect: null,
      follow_redirects: true,
      verify_tls: true,
      cert_warn_days: 14,
    },
    interval_s: 60,
    timeout_ms: 10_000,
    retries: 1,
    degraded_ms: null,
    vmid,
  };
}

/** The worst first: down, degraded, maintenance, then the rest, for sorting. */
export function statusRank(status: string): number {
  return ['down', 'degraded', 'maintenance', 'up', 'pending', 'guest_stopped', 'paused'].indexOf(status);
}

/** A target in a few words, for a definition not yet saved (the server's `target` text otherwise). */
export function describeTarget(t: MonitorTarget): string {
  switch (t.kind) {
    case 'http':
      return t.url;
    case 'tcp':
      return `tcp ${t.host}:${t.port}`;
    case 'ping':
      return `ping ${t.host}`;
    case 'dns':
      return `dns ${t.name} ${t.record}`;
    case 'agent':
      return `guest agent of ${t.vmid}`;
  }
}
