// The health monitor's API types and the shared `/api/health` poller the header badge and the
// Health page read (one request per interval however many readers are mounted).

import { ApiError, errorText, getJSON, isAbort } from './api';
import * as fmt from './format';

import type { HealthFinding } from './gen/HealthFinding';
import type { HealthOverview } from './gen/HealthOverview';
import type { HealthSummary } from './gen/HealthSummary';

export type { Severity } from './gen/Severity';
export type { FindingState } from './gen/FindingState';
export type { HealthCheck } from './gen/HealthCheck';
export type { HealthCategory } from './gen/HealthCategory';
export type { HealthEvent } from './gen/HealthEvent';
export type { ThresholdRow } from './gen/ThresholdRow';
export type { ObjectKind } from './gen/ObjectKind';
export type { Exclusion as ExclusionRow } from './gen/Exclusion';
export type { HealthFinding, HealthOverview, HealthSummary };
/** A check's, category's or the overview's status: a severity, or `pending` before the first run. */
export type Status = HealthOverview['status'];

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

/**
 * The verdict in one line, for the health pill and the Overview: from the login status (so the pill
 * has its count at the shell's first render), then pushed by the live stream (`event: health`) and
 * taken from every `/api/health` answer. No poll of its own.
 */
export const healthSummary = $state<{ value: HealthSummary | null }>({ value: null });

export function setHealthSummary(s: HealthSummary | null | undefined): void {
  if (s) healthSummary.value = s;
}

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
    const o = await getJSON<HealthOverview>('/api/health', c.signal);
    health.overview = o;
    health.error = null;
    setHealthSummary({
      status: o.status,
      summary: o.summary,
      counts: o.counts,
      checks: o.categories.reduce((n, c) => n + c.checks.length, 0),
      evaluated_at: o.evaluated_at,
      full_at: o.full_at,
      restored_at: o.restored_at,
    });
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
