// Shapes of /api/hardware and /api/hardware/live, and the helpers the Hardware page and its parts
// (components/hardware/) share. The UPS and GPU snapshots are typed by their panels.

import * as fmt from './format';
import type { Section } from './gen/Section';

// The shapes the backend serializes, generated from the Rust types (gen/).
import type { Chip } from './gen/Chip';
import type { Reading } from './gen/Reading';
import type { SelEntry } from './gen/SelEntry';
export type { Level } from './gen/Level';
export type { Reading, Chip, SelEntry };
export type { Sensors } from './gen/Sensors';
export type { IpmiSensor } from './gen/IpmiSensor';
export type { SensorList as Ipmi } from './gen/SensorList';
export type { TempSeries } from './gen/TempSeries';
export type { Cpu } from './gen/Cpu';
export type { Dmi } from './gen/Dmi';
export type { MemoryModule as Module } from './gen/MemoryModule';
export type { Memory } from './gen/Memory';
export type { PciDevice as Pci } from './gen/PciDevice';
export type { HardwareLive as Live } from './gen/HardwareLive';
export type { HardwareFull as Full } from './gen/HardwareFull';

/** A reading with the chip it comes from, as the tiles and the voltages table list them. */
export interface ChipReading {
  chip: Chip;
  r: Reading;
}

/** Why a part is missing, or null when it has data. */
export function missing<T>(s: Section<T> | null | undefined): { cls: string; text: string } | null {
  if (!s) return { cls: 'muted', text: 'Loading…' };
  const why = s.reason ? ` — ${s.reason}` : '';
  switch (s.state) {
    case 'ok':
      return null;
    case 'stale':
      return { cls: 'warn', text: `Stale data${why}` };
    case 'pending':
      return { cls: 'muted', text: 'Not read yet.' };
    case 'unavailable':
      return { cls: 'muted', text: `Not present on this host${why}` };
    default:
      return { cls: 'error', text: `Could not be read${why}` };
  }
}

/** A number with `d` decimals, trailing zeros dropped; "—" for none. */
export const num = (v: number | null | undefined, d = 1): string => (v == null ? '—' : v.toFixed(d).replace(/\.0+$/, ''));

export function valueText(r: Reading): string {
  switch (r.kind) {
    case 'temp':
      return `${r.value.toFixed(1)} °C`;
    case 'fan':
      return `${Math.round(r.value)} RPM`;
    case 'voltage':
      return `${r.value.toFixed(3)} V`;
    case 'power':
      return `${r.value.toFixed(1)} W`;
    default:
      return `${r.value.toFixed(2)} A`;
  }
}

/** The parts that are there, space-separated; "—" when none is. */
export const join = (...xs: (string | null | undefined)[]): string => xs.filter((x) => x).join(' ') || '—';

/** A SEL entry's time: the BMC's clock, or the time after power-on for entries before it was set. */
export function selTime(e: SelEntry): string {
  if (e.time) return e.time;
  if (e.pre_init_s != null) return `Pre-Init +${fmt.duration(e.pre_init_s)}`;
  return '—';
}
