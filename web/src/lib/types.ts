// Shapes served by the proxwatch API. The ones the backend serializes come from gen/ (generated from
// src/model/ and src/api/ by ts-rs); optional keys (`psi`, `cpu_temp_c`) are ABSENT when the host lacks them.

// The vitals, the host's identity and the process list: generated from the Rust types (gen/).
export type { CpuShare as CpuTimes } from './gen/CpuShare';
export type { MemoryUsage as Memory } from './gen/MemoryUsage';
export type { Swap } from './gen/Swap';
export type { PsiResource as PsiLine } from './gen/PsiResource';
export type { Psi } from './gen/Psi';
export type { NetRate as NetIf } from './gen/NetRate';
export type { DiskRate as DiskIo } from './gen/DiskRate';
export type { Sample } from './gen/Sample';
export type { Identity } from './gen/Identity';
export type { SystemInfo } from './gen/SystemInfo';
export type { GuestKind } from './gen/GuestKind';
export type { Process } from './gen/Process';
export type { ProcessList } from './gen/ProcessList';

import type { History } from './gen/History';

export type { History };
export type Range = History['range'];

/** [unix seconds, avg, min, max]; values are null for gaps. */
export type HistoryPoint = History['points'][number];
