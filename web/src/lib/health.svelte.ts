// The health monitor's API types and the shared `/api/health` poller the header badge and the
// Health page read (one request per interval however many readers are mounted).

import { ApiError, errorText, getJSON, isAbort } from './api';
import * as fmt from './format';

export type Severity = 'ok' | 'info' | 'unknown' | 'warning' | 'critical';
export type Status = Severity | 'pending';
export type FindingState = 'active' | 'dismissed' | 'resolved';

export interface HealthFinding {
  key: string;
  category: string;
  check: string;
  severity: Severity;
  reason: string;
  details: unknown;
  /** Unix ms. */
  first_seen: number | null;
  last_seen: number | null;
  occurrences: number;
  state: FindingState;
  dismissed_until?: number;
  permanent: boolean;
}

export interface HealthCheck {
  id: string;
  label: string;
  status: Status;
  reason: string;
  finding_key?: string;
  findings: HealthFinding[];
}

export interface HealthCategory {
  id: string;
  name: string;
  status: Status;
  reason?: string;
  checks: HealthCheck[];
}

export interface HealthOverview {
  status: Status;
  summary: string;
  counts: { critical: number; warning: number; unknown: number; info: number; dismissed: number };
  categories: HealthCategory[];
  evaluated_at: number | null;
  full_at: number | null;
  /** Findings a grace holds back (guests starting after a boot, services after proxwatch's start). */
  grace?: { checks: number; until: number };
}

export interface HealthEvent {
  id: number;
  fingerprint: string;
  ts: number;
  kind: 'new' | 'escalated' | 'deescalated' | 'resolved' | 'dismissed' | 'undismissed' | 'expired';
  key: string;
  category: string;
  severity: Severity;
  previous_severity?: Severity;
  reason: string;
  duration_s?: number;
  actor?: string;
  notify: boolean;
}

export interface ThresholdRow {
  key: string;
  category: string;
  label: string;
  unit: string;
  value: number;
  default: number;
  min: number;
  max: number;
  overridden: boolean;
}

export type ObjectKind = 'storage' | 'interface' | 'disk' | 'guest';

export interface ExclusionRow {
  kind: ObjectKind;
  id: string;
  health: boolean;
  notifications: boolean;
}

/** CSS class of a status: the badge colours in app.css. */
export function statusClass(s: Status | undefined): string {
  switch (s) {
    case 'critical':
      return 'crit';
    case 'warning':
      return 'warn';
    case 'ok':
      return 'ok';
    case 'info':
    case 'unknown':
      return 'accent';
    default:
      return '';
  }
}

/** How long a dismissed finding stays dismissed: "permanently" or "until <time>". */
export function untilText(f: HealthFinding): string {
  if (f.permanent || f.dismissed_until == null) return 'permanently';
  return `until ${fmt.when(f.dismissed_until / 1000)}`;
}

/** The path of a finding's action: keys contain `:` and `/`, so they are percent-encoded. */
export function findingPath(key: string, action: 'dismiss' | 'undismiss'): string {
  return `/api/health/findings/${encodeURIComponent(key)}/${action}`;
}

export const health = $state<{ overview: HealthOverview | null; error: string | null }>({ overview: null, error: null });

let users = 0;
let timer: ReturnType<typeof setInterval> | null = null;
let ctrl: AbortController | null = null;
let soon: ReturnType<typeof setTimeout> | null = null;

/** Fetches `/api/health` now (after an action, say). */
export async function refreshHealth(): Promise<void> {
  ctrl?.abort();
  const c = new AbortController();
  ctrl = c;
  try {
    health.overview = await getJSON<HealthOverview>('/api/health', c.signal);
    health.error = null;
    // Right after start the first cycle is seconds away: ask again soon rather than in 45 s.
    if (health.overview.status === 'pending' && users > 0) {
      if (soon) clearTimeout(soon);
      soon = setTimeout(() => void refreshHealth(), 3000);
    }
  } catch (e) {
    if (isAbort(e)) return;
    health.error = e instanceof ApiError && e.status === 403 ? null : errorText(e);
  }
}

/** Starts polling (every 45 s while the tab is visible); returns the stop function. */
export function watchHealth(): () => void {
  users += 1;
  if (users === 1) {
    void refreshHealth();
    timer = setInterval(() => {
      if (document.visibilityState === 'visible') void refreshHealth();
    }, 45_000);
  }
  return () => {
    users -= 1;
    if (users === 0) {
      if (timer) clearInterval(timer);
      if (soon) clearTimeout(soon);
      timer = null;
      soon = null;
      ctrl?.abort();
    }
  };
}
