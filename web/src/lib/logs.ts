// Shapes of /api/logs and /api/tasks, and the journal helpers the Logs page and its parts
// (components/logs/) share.

import * as fmt from './format';

import type { JournalEntry as Entry } from './gen/JournalEntry';
import type { TaskRow } from './gen/TaskRow';

export type { BootView as Boot } from './gen/BootView';
export type { BootsAnswer } from './gen/BootsAnswer';
export type { LogsAnswer } from './gen/LogsAnswer';
export type { TasksAnswer } from './gen/TasksAnswer';
export type { Entry, TaskRow };

/** Who logged an entry: its identifier (or unit) with the PID, `pveproxy[1234]`. */
export function source(e: Entry): string {
  const who = e.identifier ?? e.unit ?? '?';
  return e.pid != null ? `${who}[${e.pid}]` : who;
}

/** Journal stamps are always absolute and complete (a log is read by time): "2025-12-04 14:05:09". */
export function stamp(ms: number): string {
  return fmt.full(ms / 1000);
}
