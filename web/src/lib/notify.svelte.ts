// The notification engine's UI side: the generated API types, the channel kinds and their labels,
// the routing semantics the matrix shows (`wants`, as in settings.rs), and the shared
// `/api/notifications/status` poller behind the header indicator (once a minute at most, plus a
// refresh after a settings change).

import { ApiError, getJSON, isAbort } from './api';

import type { NotifyChannel } from './gen/NotifyChannel';
import type { NotifyEventType } from './gen/NotifyEventType';
import type { NotifyGroup } from './gen/NotifyGroup';
import type { NotifyRouting } from './gen/NotifyRouting';
import type { NotifyStatus } from './gen/NotifyStatus';

export type { NotifyChannel, NotifyEventType, NotifyGroup, NotifyRouting, NotifyStatus };
export type { NotifyAttention } from './gen/NotifyAttention';
export type { NotifyDetail } from './gen/NotifyDetail';
export type { NotifyEvents } from './gen/NotifyEvents';
export type { NotifyEventView } from './gen/NotifyEventView';
export type { NotifyGlobal } from './gen/NotifyGlobal';
export type { NotifyHistoryRow } from './gen/NotifyHistoryRow';
export type { NotifyMatrixChannel } from './gen/NotifyMatrixChannel';
export type { NotifyRoutingMatrix } from './gen/NotifyRoutingMatrix';
export type { NotifySeverity } from './gen/NotifySeverity';
export type { NotifyTestResult } from './gen/NotifyTestResult';
export type { AiMode } from './gen/AiMode';

/** What a set secret reads as; sent back unchanged, the server keeps the stored value. */
export const MASK = '********';

export type ChannelKind = 'telegram' | 'discord' | 'email' | 'gotify' | 'ntfy' | 'webhook';

/** The kinds in the order the "Add channel" picker shows them, with a label and a one-line hint. */
export const KINDS: { kind: ChannelKind; label: string; hint: string }[] = [
  { kind: 'telegram', label: 'Telegram', hint: 'A bot posts to a chat, group or topic.' },
  { kind: 'discord', label: 'Discord', hint: 'A channel webhook.' },
  { kind: 'email', label: 'E-mail', hint: 'SMTP or the host’s sendmail.' },
  { kind: 'gotify', label: 'Gotify', hint: 'A self-hosted Gotify server.' },
  { kind: 'ntfy', label: 'ntfy', hint: 'ntfy.sh or your own ntfy server.' },
  { kind: 'webhook', label: 'Webhook', hint: 'Any HTTP endpoint; Slack, Mattermost, Matrix, Pushover, Home Assistant presets.' },
];

export function kindLabel(kind: string): string {
  return KINDS.find((k) => k.kind === kind)?.label ?? kind;
}

/** 24x24 stroke icons per kind (inline, like the navigation's). */
export const KIND_ICON: Record<string, string> = {
  telegram: 'M21 4 3 11l6 2 2 6 3-4 5 4zM9 13l12-9',
  discord: 'M7 7c3-1.5 7-1.5 10 0l2 9c-2 1.5-4 2-5 2l-1-2h-2l-1 2c-1 0-3-.5-5-2zM9.5 12.5h.01M14.5 12.5h.01',
  email: 'M3 5h18v14H3zM3 6l9 7 9-7',
  gotify: 'M6 8a6 6 0 0 1 12 0c0 7 3 9 3 9H3s3-2 3-9M10 21h4',
  ntfy: 'M4 4h16v12H8l-4 4zM8 9h8M8 12h5',
  webhook: 'M10 14a4 4 0 1 1 2-7.5M14 10a4 4 0 1 1-2 7.5M9 17l3-6M15 7l-3 4',
};

export const GROUP_LABEL: Record<NotifyGroup, string> = {
  health: 'Health',
  backups: 'Backups & replication',
  guests: 'Guests',
  security: 'Security',
  system: 'System',
  hardware: 'Hardware',
  storage: 'Storage',
};

/** The message languages the server has a template table for (template.rs `LANGUAGES`). */
export const LANGUAGES: { id: string; label: string }[] = [{ id: 'en', label: 'English' }];

/** The history's statuses (store.rs `STATUSES`). */
export const STATUSES = ['pending', 'sending', 'retrying', 'sent', 'held', 'digest', 'aggregated', 'suppressed', 'failed', 'expired'] as const;

/** The badge class (app.css) of a history status. */
export function statusBadge(status: string): string {
  switch (status) {
    case 'sent':
      return 'ok';
    case 'failed':
    case 'expired':
      return 'crit';
    case 'retrying':
      return 'warn';
    case 'pending':
    case 'sending':
    case 'held':
    case 'digest':
      return 'accent';
    default:
      return '';
  }
}

/**
 * Whether a channel takes events of this type (settings.rs `Routing::wants`): an explicit per-event
 * override wins; otherwise the group's toggle (missing: on) and the catalog's default.
 */
export function wants(r: NotifyRouting, ev: NotifyEventType): boolean {
  if (ev.internal) return true;
  const o = r.events[ev.id];
  if (o !== undefined) return o;
  return groupOn(r, ev.group) && ev.default_on;
}

export function groupOn(r: NotifyRouting, g: NotifyGroup): boolean {
  return r.groups[g] ?? true;
}

/** `HH:MM` (24 h) as the server parses it (settings.rs `parse_hhmm`). */
export function isHHMM(s: string): boolean {
  const m = /^(\d{1,2}):(\d{1,2})$/.exec(s.trim());
  return !!m && Number(m[1]) < 24 && Number(m[2]) < 60;
}

/** A channel's delivery state, for its status dot. */
export function channelState(c: NotifyChannel): { cls: 'ok' | 'crit' | 'warn' | 'none'; text: string } {
  if (c.needs_attention) return { cls: 'crit', text: 'needs attention' };
  if (c.last_error_at != null && (c.last_sent == null || c.last_error_at > c.last_sent)) return { cls: 'warn', text: 'retrying' };
  if (c.last_sent != null) return { cls: 'ok', text: 'working' };
  return { cls: 'none', text: 'never sent' };
}

// ---------------------------------------------------------------------------------------------
// The header indicator's poller.

export const notifyStatus = $state<{ status: NotifyStatus | null }>({ status: null });

let users = 0;
let timer: ReturnType<typeof setInterval> | null = null;
let ctrl: AbortController | null = null;

/** Fetches `/api/notifications/status` now (after a channel was saved, tested or deleted). */
export async function refreshNotifyStatus(): Promise<void> {
  ctrl?.abort();
  const c = new AbortController();
  ctrl = c;
  try {
    notifyStatus.status = await getJSON<NotifyStatus>('/api/notifications/status', c.signal);
  } catch (e) {
    if (isAbort(e)) return;
    // Not there (an older server) or not allowed: no indicator rather than an error in the header.
    if (e instanceof ApiError && e.status >= 400 && e.status < 500) notifyStatus.status = null;
  }
}

/** Starts polling (once a minute while the tab is visible); returns the stop function. */
export function watchNotifyStatus(): () => void {
  users += 1;
  if (users === 1) {
    void refreshNotifyStatus();
    timer = setInterval(() => {
      if (document.visibilityState === 'visible') void refreshNotifyStatus();
    }, 60_000);
  }
  return () => {
    users -= 1;
    if (users === 0) {
      if (timer) clearInterval(timer);
      timer = null;
      ctrl?.abort();
    }
  };
}
