// Shape of /api/network and the helpers the Network page and its parts (components/network/) share.

import type { Section } from './pve';

export type Kind = 'physical' | 'bond' | 'bridge' | 'vlan' | 'ovs' | 'tap' | 'veth' | 'firewall' | 'loopback' | 'other';

export interface GuestRef {
  vmid: number;
  kind: 'qemu' | 'lxc' | null;
  name: string | null;
  index: number;
}
export interface BondSlave {
  name: string;
  mii_status: string;
  active: boolean;
  link_failures: number | null;
  speed: string | null;
  duplex: string | null;
}
export interface Bond {
  mode: string;
  active_slave: string | null;
  mii_status: string;
  slaves: BondSlave[];
  degraded: boolean;
  xmit_hash_policy: string | null;
  lacp_rate: string | null;
}
export interface Counters {
  rx_errors: number;
  tx_errors: number;
  rx_dropped: number;
  tx_dropped: number;
}
export interface Iface {
  name: string;
  kind: Kind;
  operstate: string;
  admin_up: boolean;
  carrier: boolean | null;
  mtu: number | null;
  speed_mbps: number | null;
  duplex: string | null;
  mac: string | null;
  addresses: string[];
  master: string | null;
  ports: string[];
  parent: string | null;
  vlan_id: number | null;
  bond: Bond | null;
  guest: GuestRef | null;
  rx_bps: number | null;
  tx_bps: number | null;
  counters: Counters | null;
  errors_per_s: number | null;
  drops_per_s: number | null;
}
export interface IfaceGroup {
  kind: Kind;
  label: string;
  interfaces: Iface[];
}
export interface Uplink {
  name: string;
  kind: Kind;
  operstate: string;
  speed_mbps: number | null;
  members: BondSlave[];
}
export interface BridgeNode {
  name: string;
  operstate: string;
  addresses: string[];
  uplinks: Uplink[];
  guests: { interface: string; guest: GuestRef; firewall: boolean; operstate: string }[];
  vlans: string[];
  other_ports: string[];
}
export interface Gateway {
  address: string | null;
  interface: string | null;
  target: string | null;
  state: 'pending' | 'disabled' | 'ok' | 'loss' | 'unreachable' | 'error';
  latency_ms: number | null;
  min_ms: number | null;
  max_ms: number | null;
  loss_pct: number | null;
  sent: number;
  received: number;
  last_probe: number | null;
  method: string | null;
  error: string | null;
  probe_interval_s: number;
}
export interface NetworkView {
  state: Section<unknown>['state'];
  reason: string | null;
  updated: number | null;
  summary: { interfaces: number; down: string[]; degraded_bonds: string[]; rx_bps: number; tx_bps: number };
  groups: IfaceGroup[];
  topology: BridgeNode[];
  gateway: Section<Gateway>;
}

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
