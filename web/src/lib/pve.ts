// Shapes of /api/vms, /api/cluster and /api/storage, and the helpers the VMs and Storage pages
// share. The storage shapes come partly straight from the tool parsers (zpool, smartctl), so the
// readers below accept the documented names and the parsers' own ones, and every field may be
// absent: the pages show what is there and hide the rest.

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

export interface ErrorCounts {
  read: number;
  write: number;
  checksum: number;
}

/** `kind` is a word in the contract; the zpool parser sends `{type: "raidz", parity: 1}`. */
export type VdevKind = string | { type: string; parity?: number; [k: string]: unknown };

export interface Vdev {
  name: string;
  kind?: VdevKind | null;
  state?: string | null;
  errors?: ErrorCounts | null;
  note?: string | null;
  children?: Vdev[] | null;
}

export interface VdevSection {
  class: string;
  state?: string | null;
  errors?: ErrorCounts | null;
  note?: string | null;
  vdevs: Vdev[];
}

/** A time from `zpool status`: plain text, or the parser's `{text, unix}`. */
export type ScanTime = string | { text?: string; unix?: number | null } | null;

export interface Scan {
  /** Contract name; the zpool parser calls it `state`. */
  kind?: string;
  state?: string;
  function?: string | null;
  percent_done?: number | null;
  eta?: string | null;
  eta_secs?: number | null;
  ended?: ScanTime;
  since?: ScanTime;
  at?: ScanTime;
  repaired?: number | null;
  errors?: number | null;
  duration?: string | null;
  issued?: number | null;
  scanned?: number | null;
  total?: number | null;
  text?: string;
}

export interface Pool {
  name: string;
  state?: string | null;
  health?: string | null;
  size?: number | null;
  alloc?: number | null;
  free?: number | null;
  frag_percent?: number | null;
  cap_percent?: number | null;
  dedup_ratio?: number | null;
  /** The `status:` text; the backend may instead nest the whole `zpool status` record here. */
  status?: string | PoolStatusRecord | null;
  /** The disk each member lives on, by member name. */
  members?: Record<string, MemberDisk>;
  action?: string | null;
  see?: string | null;
  scan?: Scan | null;
  errors_text?: string | null;
  /** The parser's data-error summary, when passed through. */
  errors?: { count?: number | null; files?: string[]; messages?: string[] } | null;
  /** The root vdev (contract); `root` in the parser. */
  vdevs?: Vdev | Vdev[] | null;
  root?: Vdev | null;
  sections?: VdevSection[] | null;
}

/** One pool of `zpool status` as the parser shapes it (nested under a `zpool list` row as `status`). */
export interface PoolStatusRecord {
  name?: string;
  state?: string | null;
  status?: string | null;
  action?: string | null;
  see?: string | null;
  scan?: Scan | null;
  root?: Vdev | null;
  sections?: VdevSection[] | null;
  errors?: Pool['errors'];
}

/** A pool with the nested `status` record (if any) lifted to the top, `status` as plain text. */
export function normalizePool(p: Pool): Pool & { status?: string | null } {
  const st = p.status;
  if (st == null || typeof st === 'string') return p as Pool & { status?: string | null };
  return {
    ...p,
    state: st.state ?? p.state ?? p.health ?? null,
    status: st.status ?? null,
    action: st.action ?? p.action ?? null,
    see: st.see ?? p.see ?? null,
    scan: st.scan ?? p.scan ?? null,
    root: st.root ?? p.root ?? null,
    sections: st.sections ?? p.sections ?? null,
    errors: st.errors ?? p.errors ?? null,
  };
}

export interface ThinPool {
  name: string;
  vg: string;
  size: number | null;
  data_percent: number | null;
  metadata_percent: number | null;
}

export interface VolumeGroup {
  name: string;
  size: number | null;
  free: number | null;
}

export interface Lvm {
  thin_pools: ThinPool[] | null;
  vgs: VolumeGroup[] | null;
}

export type DiskKind = 'hdd' | 'ssd' | 'nvme' | 'usb' | 'unknown';

export interface StorageAll {
  storages: Section<NodeStorage[]>;
  pools: Section<Pool[]>;
  lvm: Section<Lvm>;
  disks: Section<DiskView[]>;
}

export interface AtaAttribute {
  id: number;
  name: string;
  value: number | null;
  worst: number | null;
  thresh: number | null;
  raw?: { value?: number | null; string?: string | null } | null;
  raw_value?: number | null;
  raw_string?: string | null;
  prefailure?: boolean;
  failing_now?: boolean;
  failed_in_past?: boolean;
}

export interface SelfTest {
  type?: string;
  kind?: string;
  status: string;
  passed: boolean | null;
  lifetime_hours: number | null;
  lba_first_error: number | null;
}

export interface NvmeLog {
  critical_warning?: { value: number; flags: string[] } | number | null;
  percentage_used?: number | null;
  available_spare?: number | null;
  available_spare_pct?: number | null;
  available_spare_threshold?: number | null;
  available_spare_threshold_pct?: number | null;
  media_errors?: number | null;
  num_err_log_entries?: number | null;
  error_log_entries?: number | null;
  data_units_written?: number | null;
  data_units_read?: number | null;
  unsafe_shutdowns?: number | null;
  controller_busy_minutes?: number | null;
  warning_temp_minutes?: number | null;
  critical_temp_minutes?: number | null;
}

export interface SmartFull {
  state: 'data' | 'standby' | 'failed' | string;
  reason?: string | null;
  power_mode?: string | null;
  model?: string | null;
  family?: string | null;
  serial?: string | null;
  firmware?: string | null;
  wwn?: string | null;
  capacity_bytes?: number | null;
  rotation_rate_rpm?: number | null;
  form_factor?: string | null;
  interface?: string | null;
  smart_passed?: boolean | null;
  temperature_c?: number | null;
  power_on_hours?: number | null;
  power_cycles?: number | null;
  wear_used_pct?: number | null;
  wear_source?: string | null;
  bytes_written?: number | null;
  bytes_read?: number | null;
  findings?: string[] | null;
  messages?: string[] | null;
  self_tests?: SelfTest[] | null;
  self_test_running?: { description?: string | null; remaining_pct?: number | null } | null;
  ata?: ({ attributes?: AtaAttribute[] | null } & Record<string, unknown>) | null;
  nvme?: NvmeLog | null;
  scsi?: Record<string, unknown> | null;
}

export interface DiskDetail {
  disk: DiskView;
  smart: SmartFull | null;
}

// ---------------------------------------------------------------------------------------------
// helpers

/** A short line about a section that is not plainly `ok`, or null when it is. */
export function sectionNote<T>(s: Section<T> | null | undefined, now = Date.now() / 1000): string | null {
  if (!s) return 'not reported by this proxwatch version';
  const why = s.reason ? `: ${s.reason}` : '';
  switch (s.state) {
    case 'ok':
      return null;
    case 'stale': {
      const age = s.updated ? Math.max(0, Math.round((now - s.updated) / 60)) : null;
      return `stale${age !== null ? `, ${age} min old` : ''}${why}`;
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
  if (typeof k === 'string') return k;
  if ((k.type === 'raidz' || k.type === 'draid') && typeof k.parity === 'number') return `${k.type}${k.parity}`;
  return k.type;
}

/** The pool's root vdev, whatever the field is called. */
export function poolRoot(p: Pool): Vdev | null {
  if (p.root) return p.root;
  if (Array.isArray(p.vdevs)) return { name: p.name, state: p.state ?? p.health ?? null, children: p.vdevs };
  return p.vdevs ?? null;
}

export function scanKind(s: Scan | null | undefined): string {
  return s?.kind ?? s?.state ?? 'none';
}

export function scanTimeText(t: ScanTime | undefined): string | null {
  if (t == null) return null;
  if (typeof t === 'string') return t;
  if (t.text) return t.text;
  if (t.unix) return fmt.when(t.unix);
  return null;
}

export function poolState(p: Pool): string {
  return p.state ?? p.health ?? 'UNKNOWN';
}

/** The pool's `errors:` line as text. */
export function poolErrors(p: Pool): string | null {
  if (p.errors_text) return p.errors_text;
  const e = p.errors;
  if (!e) return null;
  if (e.messages && e.messages.length) return e.messages.join('; ');
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
  const s = a.raw?.string ?? a.raw_string;
  if (s != null && s !== '') return s;
  const v = a.raw?.value ?? a.raw_value;
  return v == null ? '—' : String(v);
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
