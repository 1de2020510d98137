// The one /api/live EventSource of the app. It feeds the latest sample to the
// tiles and each sample to subscribers (the live charts), and tracks whether
// the host is reachable so the shell can say so honestly.

import type { Sample } from './types';
import { url } from './api';
import { setHealthSummary } from './health.svelte';
import type { HealthSummary } from './gen/HealthSummary';

export type ConnState = 'connecting' | 'live' | 'reconnecting' | 'unreachable';

export const live = $state<{ state: ConnState; latest: Sample | null; receivedAt: number; since: number }>({
  state: 'connecting',
  latest: null,
  receivedAt: 0,
  since: Date.now(),
});

type Listener = (s: Sample) => void;
const listeners = new Set<Listener>();

export function onSample(fn: Listener): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * The host's clock now, in unix seconds: the newest sample's time plus what has passed since it
 * arrived (the browser's own clock may be off). Charts place their windows by it.
 */
export function serverNow(): number {
  const s = live.latest;
  return s ? s.ts / 1000 + Math.max(0, Date.now() - live.receivedAt) / 1000 : Date.now() / 1000;
}

/** Seed the latest sample (from /api/system) before the stream delivers one. */
export function seedLatest(s: Sample): void {
  if (!live.latest || s.ts > live.latest.ts) {
    live.latest = s;
    live.receivedAt = Date.now();
  }
}

let es: EventSource | null = null;
let retryTimer: ReturnType<typeof setTimeout> | undefined;
let unreachableTimer: ReturnType<typeof setTimeout> | undefined;
let watchdog: ReturnType<typeof setInterval> | undefined;
let backoff = 1000;
let lastMessage = 0;
let onClosed: (() => void) | null = null;
let onlineHooked = false;

function setState(s: ConnState): void {
  if (live.state !== s) {
    live.state = s;
    live.since = Date.now();
  }
}

function trouble(): void {
  if (live.state === 'live' || live.state === 'connecting') setState('reconnecting');
  // A short blip stays "reconnecting"; a few seconds without a stream means
  // the host (or our network path to it) is gone.
  unreachableTimer ??= setTimeout(() => {
    unreachableTimer = undefined;
    if (live.state !== 'live') setState('unreachable');
  }, 5000);
}

function open(): void {
  es?.close();
  const src = new EventSource(url('/api/live'));
  es = src;
  src.onopen = () => {
    backoff = 1000;
  };
  src.addEventListener('vitals', (ev: MessageEvent<string>) => {
    let s: Sample;
    try {
      s = JSON.parse(ev.data) as Sample;
    } catch {
      return;
    }
    lastMessage = Date.now();
    clearTimeout(unreachableTimer);
    unreachableTimer = undefined;
    setState('live');
    live.latest = s;
    live.receivedAt = lastMessage;
    for (const fn of listeners) fn(s);
  });
  src.addEventListener('health', (ev: MessageEvent<string>) => {
    try {
      setHealthSummary(JSON.parse(ev.data) as HealthSummary);
    } catch {
      // A malformed event changes nothing; the next one will do.
    }
  });
  src.onerror = () => {
    trouble();
    if (src.readyState === EventSource.CLOSED) {
      // The browser gave up (non-200 or wrong content type, e.g. a proxy page
      // while the host restarts, or a 401 once the session ended): let the
      // auth gate check the session, and retry ourselves with a capped backoff.
      onClosed?.();
      clearTimeout(retryTimer);
      retryTimer = setTimeout(open, backoff);
      backoff = Math.min(backoff * 2, 30000);
    }
  };
}

/** `closed` hears when the browser gives up on the stream (the session may have ended). */
export function startLive(closed?: () => void): void {
  if (es) return;
  onClosed = closed ?? null;
  backoff = 1000;
  open();
  // A stream that is open but silent (host hung, half-open TCP) is not live.
  watchdog = setInterval(() => {
    if (live.state === 'live' && Date.now() - lastMessage > 10000) {
      trouble();
      open();
    }
  }, 2000);
  if (!onlineHooked) {
    onlineHooked = true;
    window.addEventListener('online', () => {
      if (es && live.state !== 'live') open();
    });
  }
}

export function stopLive(): void {
  es?.close();
  es = null;
  clearTimeout(retryTimer);
  clearTimeout(unreachableTimer);
  clearInterval(watchdog);
  onClosed = null;
  live.state = 'connecting';
}
