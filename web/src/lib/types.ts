// Shapes served by the proxwatch API (see src/model/ in the backend).
// Optional keys (`psi`, `cpu_temp_c`) are ABSENT when the host lacks them.

export interface CpuTimes {
  user: number;
  system: number;
  iowait: number;
  steal: number;
  idle: number;
  busy: number;
}

export interface Memory {
  total: number;
  used: number;
  free: number;
  cached: number;
  buffers: number;
  available: number;
  /** ZFS ARC size in bytes, counted as cache; null when ZFS is not loaded. */
  arc: number | null;
  used_pct: number;
}

export interface Swap {
  total: number;
  used: number;
  used_pct: number;
}

export interface PsiLine {
  some_avg10: number;
  some_avg60: number;
  some_avg300: number;
  full_avg10: number | null;
}

export interface Psi {
  cpu: PsiLine;
  memory: PsiLine;
  io: PsiLine;
}

export interface NetIf {
  name: string;
  rx_bps: number;
  tx_bps: number;
  rx_errors: number;
  tx_errors: number;
  rx_drops: number;
  tx_drops: number;
}

export interface DiskIo {
  name: string;
  read_bps: number;
  write_bps: number;
  read_iops: number;
  write_iops: number;
}

export interface Sample {
  /** unix milliseconds */
  ts: number;
  interval_s: number;
  cpu: { total: CpuTimes; cores: CpuTimes[] };
  load: [number, number, number];
  memory: Memory;
  swap: Swap;
  psi?: Psi;
  net: NetIf[];
  net_total: { rx_bps: number; tx_bps: number };
  disks: DiskIo[];
  disk_total: { read_bps: number; write_bps: number; read_iops: number; write_iops: number };
  uptime_s: number;
  cpu_temp_c?: number;
}

export interface Identity {
  hostname: string;
  pve_version: string | null;
  kernel: string;
  cpu_model: string;
  sockets: number;
  cores: number;
  threads: number;
  /** unix seconds */
  boot_time: number;
  uptime_s: number;
}

export interface SystemInfo {
  identity: Identity;
  demo: { scenario: string; note: string } | null;
  vitals: Sample | null;
}

export type GuestKind = 'qemu' | 'lxc';

export interface Process {
  pid: number;
  user: string;
  command: string;
  name: string;
  cpu_pct: number;
  rss_bytes: number;
  threads: number;
  state: string;
  vmid: number | null;
  guest_kind: GuestKind | null;
}

export interface ProcessList {
  sampled_at: number;
  processes: Process[];
}

export type Range = 'live' | '1h' | '6h' | '24h' | '7d' | '30d' | '1y';

/** [unix seconds, avg, min, max]; values are null for gaps. */
export type HistoryPoint = [number, number | null, number | null, number | null];

export interface History {
  metric: string;
  range: Range;
  step_s: number;
  points: HistoryPoint[];
}
