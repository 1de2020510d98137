// The Overview's one summary read (`GET /api/overview`): the verdict with its worst findings, the
// summary cards and what changed. Read when the page opens, and again when the live stream says the
// verdict moved or a new full health cycle ran; never on a timer of its own.

import { errorText, getJSON, isAbort, url } from './api';
import { setHealthSummary } from './health.svelte';

import type { OverviewSummary } from './gen/OverviewSummary';

export type { OverviewSummary };
export type { Attention } from './gen/Attention';
export type { OverviewChange } from './gen/OverviewChange';
export type { Card } from './gen/Card';

export const overview = $state<{ data: OverviewSummary | null; error: string | null; loadedAt: number }>({
  data: null,
  error: null,
  loadedAt: 0,
});

let ctrl: AbortController | null = null;
let early: { at: number; answer: Promise<OverviewSummary | null> } | null = null;

/** Set while this browser had a session at its last login status: worth asking for the summary early. */
const HINT = 'proxwatch.session-hint';

/** Remembers whether the last login status was authenticated (a hint only: the server decides). */
export function setSessionHint(authenticated: boolean): void {
  try {
    if (authenticated) localStorage.setItem(HINT, '1');
    else localStorage.removeItem(HINT);
  } catch {
    // Storage unavailable (private mode): no early read, nothing else changes.
  }
}

function sessionHint(): boolean {
  try {
    return localStorage.getItem(HINT) === '1';
  } catch {
    return false;
  }
}

/**
 * Starts the summary read at boot, beside the login status, when the app opens on the Overview of a
 * browser that had a session: the strip then comes with the page instead of one round trip after the
 * shell. A browser without one asks nothing (no 401 in its console); an expired session answers 401
 * once, dropped quietly (the login status decides what to show, and clears the hint).
 */
export function prefetchOverview(): void {
  if (!sessionHint()) return;
  const answer = fetch(url('/api/overview'), {
    headers: { Accept: 'application/json' },
    credentials: 'same-origin',
    cache: 'no-store',
  })
    .then((r) => (r.ok ? (r.json() as Promise<OverviewSummary>) : null))
    .catch(() => null);
  early = { at: Date.now(), answer };
}

/** Reads `/api/overview` now (an older read still under way is dropped). */
export async function loadOverview(): Promise<void> {
  ctrl?.abort();
  const c = new AbortController();
  ctrl = c;
  const pre = early && Date.now() - early.at < 10_000 ? early.answer : null;
  early = null;
  try {
    const data = (await pre) ?? (await getJSON<OverviewSummary>('/api/overview', c.signal));
    if (c.signal.aborted) return;
    overview.data = data;
    overview.error = null;
    overview.loadedAt = Date.now();
    setHealthSummary(data.health);
  } catch (e) {
    if (!isAbort(e)) overview.error = errorText(e);
  }
}

/** Stops a read under way (the page closed). */
export function stopOverview(): void {
  ctrl?.abort();
  ctrl = null;
}
