// Shapes of /api/vms, /api/cluster and /api/storage (generated from the Rust types in gen/), and
// the helpers the VMs and Storage pages share.

import { ApiError, getJSON, isAbort, errorText } from './api';
import * as fmt from './format';

// The shapes the backend serializes, generated from the Rust types (gen/).
import type { GuestView as Guest } from './gen/GuestView';
import type { Section } from './gen/Section';
export type { Section, Guest };
export type { SectionState } from './gen/SectionState';
export type { BackupRef as LastBackup } from './gen/BackupRef';
export type { VmList } from './gen/VmList';
export type { TaskView as Task } from './gen/TaskView';
export type { ReplicationJob } from './gen/ReplicationJob';
export type { VmDetail as GuestDetail } from './gen/VmDetail';
export type { NodeStorage as PveStorage } from './gen/NodeStorage';
export type { SmartSummary as DiskSmart } from './gen/SmartSummary';
export type { Forecast } from './gen/Forecast';
export type { DiskView as Disk } from './gen/DiskView';
export type { DiskFinding } from './gen/DiskFinding';
export type { Membership as DiskMembership } from './gen/Membership';
export type { MemberDisk } from './gen/MemberDisk';
import type { NodeStorage } from './gen/NodeStorage';
import type { DiskView } from './gen/DiskView';
import type { MemberDisk } from './gen/MemberDisk';

export type Outcome = 'ok' | 'warnings' | 'running' | 'failed';

import type { PoolView } from './gen/PoolView';
import type { Vdev } from './gen/Vdev';
import type { VdevKind } from './gen/VdevKind';
import type { VdevSection } from './gen/VdevSection';
import type { Scan } from './gen/Scan';
import type { ScanTime } from './gen/ScanTime';
import type { DataErrors } from './gen/DataErrors';
import type { AtaAttribute } from './gen/AtaAttribute';
export type { PoolView, Vdev, VdevKind, VdevSection, Scan, ScanTime, DataErrors, AtaAttribute };
export type { ErrorCounts } from './gen/ErrorCounts';
export type { PoolStatus as PoolStatusRecord } from './gen/PoolStatus';
export type { StorageAll } from './gen/StorageAll';
export type { LvmView as Lvm } from './gen/LvmView';
export type { ThinPoolView as ThinPool } from './gen/ThinPoolView';
export type { VolumeGroupView as VolumeGroup } from './gen/VolumeGroupView';
export type { DiskDetail } from './gen/DiskDetail';
export type { DiskKind } from './gen/DiskKind';
export type { SmartReading, SmartReading as SmartFull } from './gen/SmartReading';
export type { SmartData } from './gen/SmartData';
export type { SelfTest } from './gen/SelfTest';
export type { NvmeData as NvmeLog } from './gen/NvmeData';

/** A pool as the Storage page shows it: the `zpool list` row with its `zpool status` lifted up. */
export type Pool = Omit<PoolView, 'status'> & {
  state: string | null;
  /** The `status:` paragraph of `zpool status` (absent on a healthy pool). */
  status: string | null;
  action: string | null;
  see: string | null;
  scan: Scan | null;
  root: Vdev | null;
  sections: VdevSection[];
  errors: DataErrors | null;
};

/** A pool with its `zpool status` record (if any) lifted to the top. */
export function normalizePool(p: PoolView): Pool {
  const st = p.status;
  return {
    ...p,
    state: st?.state ?? p.health ?? null,
    status: st?.status ?? null,
    action: st?.action ?? null,
    see: st?.see ?? null,
    scan: st?.scan ?? null,
    root: st?.root ?? null,
    sections: st?.sections ?? [],
    errors: st?.errors ?? null,
  };
}

// ---------------------------------------------------------------------------------------------
// helpers

/** A short line about a section that is not plainly `ok`, or null when it is. */
export function sectionNote<T>(s: Section<T> | null | undefined, now = Date.now() / 1000): string | null {
  if (!s) return 'not reported by this proxwatch version';
  const why = s.reason ? `: ${s.reason}` : '';
  // Read the expensive way (the files PVE's daemons use were not there): say from where and why.
  const fallback = s.source && !s.source.endsWith('files') ? ` (read from ${s.source})` : '';
  switch (s.state) {
    case 'ok':
      return fallback ? `read from ${s.source}` : null;
    case 'stale': {
      const age = s.updated ? Math.max(0, Math.round((now - s.updated) / 60)) : null;
      return `stale${age !== null ? `, ${age} min old` : ''}${why}${fallback}`;
    }
    case 'unavailable':
      return `not available on this host${why}`;
    case 'pending':
      return 'not collected yet';
    default:
      return `could not be read${why}`;
  }
}

export function guestLabel(g: Pick<Guest, 'kind' | 'vmid'>): string {
  return `${g.kind === 'lxc' ? 'CT' : 'VM'} ${g.vmid}`;
}

/** 0–100 or null. */
export function ratio(used: number | null | undefined, total: number | null | undefined): number | null {
  if (used == null || total == null || !Number.isFinite(used) || !Number.isFinite(total) || total <= 0) return null;
  return Math.max(0, Math.min(100, (used / total) * 100));
}

export function level(pct: number | null | undefined, warn = 80, crit = 90): 'ok' | 'warn' | 'crit' {
  if (pct == null) return 'ok';
  return pct >= crit ? 'crit' : pct >= warn ? 'warn' : 'ok';
}

/** A vdev kind as a word: `mirror`, `raidz1`, `draid2`, `device`. */
export function vdevKind(k: VdevKind | null | undefined): string {
  if (k == null) return '';
  if (k.type === 'raidz' || k.type === 'draid') return `${k.type}${k.parity}`;
  return k.type;
}

/** The pool's root vdev (the pool itself; its children are the top-level vdevs). */
export function poolRoot(p: Pool): Vdev | null {
  return p.root;
}

export function scanKind(s: Scan | null | undefined): string {
  return s?.state ?? 'none';
}

export function scanTimeText(t: ScanTime | null | undefined): string | null {
  if (t == null) return null;
  if (t.text) return t.text;
  if (t.unix) return fmt.when(t.unix);
  return null;
}

export function poolState(p: Pool): string {
  return p.state ?? p.health ?? 'UNKNOWN';
}

/** The pool's `errors:` line as text. */
export function poolErrors(p: Pool): string | null {
  const e = p.errors;
  if (!e) return null;
  if (e.messages.length) return e.messages.join('; ');
  if (e.count === 0) return 'No known data errors';
  if (e.count != null) return `${e.count} data error${e.count === 1 ? '' : 's'}`;
  return null;
}

export function stateClass(state: string | null | undefined): 'ok' | 'warn' | 'crit' | 'dim' {
  switch ((state ?? '').toUpperCase()) {
    case 'ONLINE':
    case 'HEALTHY':
    case 'AVAIL':
    case 'INUSE':
      return 'ok';
    case 'DEGRADED':
    case 'OFFLINE':
    case 'REMOVED':
      return 'warn';
    case '':
      return 'dim';
    default:
      return 'crit';
  }
}

export function attrRaw(a: AtaAttribute): string {
  return a.raw_string !== '' ? a.raw_string : String(a.raw_value);
}

export function outcomeClass(o: string | null | undefined): 'ok' | 'warn' | 'crit' | 'accent' {
  switch (o) {
    case 'ok':
      return 'ok';
    case 'warnings':
      return 'warn';
    case 'running':
      return 'accent';
    default:
      return 'crit';
  }
}

/**
 * Polls `path` every `everyMs` while the page is visible: `set` gets each answer, `fail` each error
 * (aborts are swallowed). `stop` is the `$effect` cleanup; `reload` asks again now.
 */
export function poll<T>(
  path: string,
  everyMs: number,
  set: (v: T) => void,
  fail: (msg: string, status: number) => void,
): { stop: () => void; reload: () => void } {
  let ctrl: AbortController | null = null;
  const load = async (): Promise<void> => {
    ctrl?.abort();
    const c = new AbortController();
    ctrl = c;
    try {
      set(await getJSON<T>(path, c.signal));
    } catch (e) {
      if (!isAbort(e)) fail(errorText(e), e instanceof ApiError ? e.status : 0);
    }
  };
  void load();
  const timer = setInterval(() => {
    if (document.visibilityState === 'visible') void load();
  }, everyMs);
  const onVis = (): void => {
    if (document.visibilityState === 'visible') void load();
  };
  document.addEventListener('visibilitychange', onVis);
  return {
    stop: () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', onVis);
      ctrl?.abort();
    },
    reload: () => void load(),
  };
}

/** A compact uptime: `14 d 1 h`, `5 h 12 min`, `3 min`. */
export function uptimeShort(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds <= 0) return '—';
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  return `${Math.max(1, m)} min`;
}
