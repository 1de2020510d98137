// Shapes of /api/fleet (issue 19: the other proxwatch appliances shown beside this one) and the
// helpers the Fleet page, Settings → Fleet and the Overview's fleet line share.

import { ratio } from './pve';

// The shapes the backend serializes, generated from the Rust types (gen/).
import type { Fleet } from './gen/Fleet';
import type { FleetProbe } from './gen/FleetProbe';
import type { FleetPeer } from './gen/FleetPeer';
import type { FleetSummary } from './gen/FleetSummary';
import type { FleetHealth } from './gen/FleetHealth';
import type { PeerStatus } from './gen/PeerStatus';
import type { PeerCheck } from './gen/PeerCheck';
export type { FleetPeer, FleetSummary, FleetHealth, PeerStatus, PeerCheck };
export type { FleetHost } from './gen/FleetHost';
export type { FleetVitals } from './gen/FleetVitals';
export type { FleetGuests } from './gen/FleetGuests';
export type { FleetCategory } from './gen/FleetCategory';
export type { FleetFinding } from './gen/FleetFinding';
export type { FleetUps } from './gen/FleetUps';

/** GET /api/fleet: this host, the peers, the most peers allowed and how often they are polled. */
export type FleetList = Fleet;

/** POST /api/fleet/probe */
export type ProbeResult = FleetProbe;

// ---- Helpers ----

/** The colour class of a health status (`ok`, `warning`, `critical`, `pending`). */
export function healthClass(status: string | null | undefined): string {
  switch (status) {
    case 'critical':
      return 'crit';
    case 'warning':
      return 'warn';
    case 'ok':
      return 'ok';
    default:
      return '';
  }
}

/** A health verdict in a few words: `ok`, `2 critical, 1 warning`, `first check pending`. */
export function healthText(h: FleetHealth): string {
  if (h.status === 'pending') return 'first check pending';
  const parts: string[] = [];
  if (h.critical) parts.push(`${h.critical} critical`);
  if (h.warning) parts.push(`${h.warning} warning${h.warning === 1 ? '' : 's'}`);
  return parts.length ? parts.join(', ') : h.status === 'ok' ? 'ok' : h.status;
}

/** Worst first, for sorting: critical, warning, ok, pending; a host without a summary last. */
export function healthRank(s: FleetSummary | null | undefined): number {
  const i = ['critical', 'warning', 'ok', 'pending'].indexOf(s?.health.status ?? '');
  return i < 0 ? 4 : i;
}

/** The colour class of a peer's polling status. */
export function peerStatusClass(s: PeerStatus): string {
  switch (s) {
    case 'ok':
      return 'ok';
    case 'error':
    case 'stale':
      return 'warn';
    case 'blocked':
      return 'crit';
    default:
      return '';
  }
}

/** Whether a peer counts as having a problem: not polled right, or its own health not ok. */
export function peerHasProblem(p: FleetPeer): boolean {
  if (p.status === 'pending') return false;
  if (p.status !== 'ok') return true;
  return !!p.summary && (p.summary.health.status === 'critical' || p.summary.health.status === 'warning');
}

export function memPct(s: FleetSummary): number | null {
  return s.vitals ? ratio(s.vitals.mem_used, s.vitals.mem_total) : null;
}

export function storagePct(s: FleetSummary): number | null {
  return s.vitals ? ratio(s.vitals.storage_used, s.vitals.storage_total) : null;
}

/** PVE's version without the package noise: `pve-manager/8.2.4/faa83925c9641325` -> `8.2.4`. */
export function pveShort(v: string | null | undefined): string {
  if (!v) return '—';
  const m = /(\d+\.\d+(?:[.-]\d+)*)/.exec(v);
  return m?.[1] ?? v;
}

/** A check row's icon and words. */
export const CHECK_ICON: Record<string, string> = { ok: '✓', warn: '!', fail: '✗', skip: '–' };

export const CHECK_LABEL: Record<string, string> = {
  reachable: 'Reachable',
  tls: 'Certificate',
  token: 'Token',
  version: 'Version',
  domains: 'Data',
};

export function checkLabel(id: string): string {
  return CHECK_LABEL[id] ?? id;
}

/** The colour class of a check row. */
export function checkClass(status: string): string {
  return status === 'ok' ? 'ok' : status === 'warn' ? 'warn' : status === 'fail' ? 'crit' : '';
}

export type SortKey = 'name' | 'health' | 'cpu' | 'mem';

export const SORTS: { key: SortKey; label: string }[] = [
  { key: 'name', label: 'Name' },
  { key: 'health', label: 'Health' },
  { key: 'cpu', label: 'CPU' },
  { key: 'mem', label: 'Memory' },
];

/**
 * The peers in `key`'s order: names A–Z, health worst first, CPU and memory busiest first; `reverse`
 * turns it around (a second click on the same key).
 */
export function sortPeers(peers: FleetPeer[], key: SortKey, reverse = false): FleetPeer[] {
  const byName = (a: FleetPeer, b: FleetPeer): number => a.name.localeCompare(b.name, undefined, { numeric: true });
  const desc = (v: number | null | undefined): number => (v == null || !Number.isFinite(v) ? Number.NEGATIVE_INFINITY : v);
  const sorted = [...peers].sort((a, b) => {
    switch (key) {
      case 'health':
        return healthRank(a.summary) - healthRank(b.summary) || byName(a, b);
      case 'cpu':
        return desc(b.summary?.vitals?.cpu_pct) - desc(a.summary?.vitals?.cpu_pct) || byName(a, b);
      case 'mem':
        return desc(b.summary ? memPct(b.summary) : null) - desc(a.summary ? memPct(a.summary) : null) || byName(a, b);
      default:
        return byName(a, b);
    }
  });
  return reverse ? sorted.reverse() : sorted;
}
