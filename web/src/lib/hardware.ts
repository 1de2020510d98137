// Shapes of /api/hardware and /api/hardware/live, and the helpers the Hardware page and its parts
// (components/hardware/) share. The UPS and GPU snapshots are typed by their panels.

import * as fmt from './format';
import type { Section } from './pve';

export type Level = 'ok' | 'warn' | 'crit';

export interface Reading {
  kind: 'temp' | 'fan' | 'voltage' | 'power' | 'current';
  key: string;
  label: string;
  value: number;
  unit: string;
  min: number | null;
  max: number | null;
  crit: number | null;
  alarm: boolean;
  level: Level;
}

export interface Chip {
  id: string;
  name: string;
  model: string | null;
  readings: Reading[];
}

/** A reading with the chip it comes from, as the tiles and the voltages table list them. */
export interface ChipReading {
  chip: Chip;
  r: Reading;
}

export interface Sensors {
  chips: Chip[];
  ignored: { chip: string; key: string; label: string; value: number; reason: string }[];
}

export interface IpmiSensor {
  name: string;
  value: number | null;
  unit: string;
  status: 'ok' | 'nc' | 'cr' | 'nr' | 'ns' | 'na' | 'discrete';
  state: string | null;
  lnr: number | null;
  lcr: number | null;
  lnc: number | null;
  unc: number | null;
  ucr: number | null;
  unr: number | null;
}

export interface Ipmi {
  sensors: IpmiSensor[];
  unpopulated: number;
}

export interface SelEntry {
  id: string;
  time: string | null;
  pre_init_s: number | null;
  sensor: string;
  event: string;
  direction: string | null;
  detail: string | null;
  new: boolean;
}

export interface TempSeries {
  key: string;
  chip: string;
  label: string;
}

export interface Cpu {
  model: string;
  vendor: string | null;
  sockets: number;
  cores: number;
  threads: number;
  max_mhz: number | null;
  virtualization: string | null;
  cache: string | null;
}

export interface Dmi {
  system_vendor: string | null;
  product: string | null;
  product_version: string | null;
  family: string | null;
  board_vendor: string | null;
  board: string | null;
  board_version: string | null;
  bios_vendor: string | null;
  bios_version: string | null;
  bios_date: string | null;
  chassis_vendor: string | null;
  chassis_type: string | null;
}

export interface Module {
  locator: string;
  bank: string | null;
  size_bytes: number;
  kind: string | null;
  detail: string | null;
  form_factor: string | null;
  speed_mts: number | null;
  configured_mts: number | null;
  manufacturer: string | null;
  part_number: string | null;
  rank: number | null;
}

export interface Memory {
  modules: Module[];
  empty_slots: number;
  total_bytes: number;
}

export interface Pci {
  slot: string;
  class: string;
  class_name: string;
  vendor_id: string;
  device_id: string;
  vendor: string | null;
  device: string | null;
  subsystem: string | null;
  driver: string | null;
  iommu_group: number | null;
  kind: 'gpu' | 'storage' | 'network' | 'other';
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
