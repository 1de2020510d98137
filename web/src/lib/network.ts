// Shape of /api/network and the helpers the Network page and its parts (components/network/) share.

// The shapes the backend serializes, generated from the Rust types (gen/).
import type { Gateway } from './gen/Gateway';
import type { GuestRef } from './gen/GuestRef';
import type { Interface as Iface } from './gen/Interface';
export type { IfKind as Kind } from './gen/IfKind';
export type { GuestRef, Iface, Gateway };
export type { BondSlaveView as BondSlave } from './gen/BondSlaveView';
export type { BondView as Bond } from './gen/BondView';
export type { Counters } from './gen/Counters';
export type { IfaceGroup } from './gen/IfaceGroup';
export type { Uplink } from './gen/Uplink';
export type { BridgeNode } from './gen/BridgeNode';
export type { NetworkView } from './gen/NetworkView';

/** The badge class of an interface's state: up ok, down (or no carrier) crit, anything else warn; none when admin down. */
export function stateClass(i: { operstate: string; carrier?: boolean | null; admin_up?: boolean }): string {
  if (i.admin_up === false) return '';
  if (i.operstate === 'up' || (i.operstate === 'unknown' && i.carrier !== false)) return 'ok';
  if (i.operstate === 'down' || i.carrier === false) return 'crit';
  return 'warn';
}
export function stateText(i: Iface): string {
  if (!i.admin_up) return 'admin down';
  if (i.carrier === false) return 'no carrier';
  return i.operstate;
}
export function speed(mbps: number | null): string {
  if (mbps == null) return '—';
  return mbps >= 1000 ? `${mbps / 1000} Gb/s` : `${mbps} Mb/s`;
}
export function guestLabel(g: GuestRef): string {
  return `${g.vmid}${g.name ? ` ${g.name}` : ''}`;
}
export function perSec(v: number | null): string {
  if (v == null) return '—';
  return v === 0 ? '0/s' : v < 0.1 ? `${v.toFixed(3)}/s` : `${v.toFixed(1)}/s`;
}
export function gwClass(s: Gateway['state'] | undefined): string {
  return s === 'ok' ? 'ok' : s === 'loss' ? 'warn' : s === 'unreachable' || s === 'error' ? 'crit' : '';
}
/** Milliseconds with two significant decimals below 10, one below 100, none above. */
export const ms = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)) + ' ms';
export const msOrDash = (v: number | null | undefined): string => (v == null ? '—' : ms(v));
