// Shapes of /api/logs and /api/tasks, and the journal helpers the Logs page and its parts
// (components/logs/) share.

import * as fmt from './format';

export interface Entry {
  cursor: string;
  ts: number;
  priority: number | null;
  unit: string | null;
  identifier: string | null;
  pid: number | null;
  hostname: string | null;
  message: string;
  boot: string | null;
}

export interface TaskRow {
  upid: string;
  type: string;
  vmid: number | null;
  id: string;
  user: string;
  status: string | null;
  outcome: string;
  start: number;
  end: number | null;
  duration_s: number | null;
  node: string;
}

/** Who logged an entry: its identifier (or unit) with the PID, `pveproxy[1234]`. */
export function source(e: Entry): string {
  const who = e.identifier ?? e.unit ?? '?';
  return e.pid != null ? `${who}[${e.pid}]` : who;
}

/** Journal stamps are always absolute and complete (a log is read by time): "2025-12-04 14:05:09". */
export function stamp(ms: number): string {
  return fmt.full(ms / 1000);
}
