// Who is logged in, as /api/auth/status says. The gate in App.svelte renders
// the setup wizard, the login page or the shell from this state; the CSRF
// token lives in api.ts (memory only) and is refreshed from every status.

import { ApiError, getJSON, onAuthFailure, postJSON, setCsrf } from './api';
import { setHealthSummary } from './health.svelte';
import { setSessionHint } from './overview.svelte';

import type { AuthStatus } from './gen/AuthStatus';
import type { Role } from './gen/Role';

export type { AuthStatus, Role };

export const auth = $state<{
  /** Null until the first /api/auth/status answered. */
  status: AuthStatus | null;
  /** Set when the status could not be loaded at all (host down on first load). */
  error: string | null;
  /** A one-line notice for the login page ("Admin created", "Session expired"). */
  notice: string | null;
}>({ status: null, error: null, notice: null });

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** True when the logged-in user has at least `role`. */
export function can(role: Role): boolean {
  const r = auth.status?.authenticated ? auth.status.role : undefined;
  return r !== undefined && RANK[r] >= RANK[role];
}

export async function loadStatus(): Promise<AuthStatus | null> {
  try {
    const s = await getJSON<AuthStatus>('/api/auth/status');
    setCsrf(s.csrf_token ?? null);
    // Before the gate opens, so that the shell's first render has the health pill's count.
    setHealthSummary(s.health);
    setSessionHint(s.authenticated);
    auth.status = s;
    auth.error = null;
    return s;
  } catch (e) {
    auth.error = e instanceof Error ? e.message : String(e);
    return null;
  }
}

export type LoginResult = { ok: true } | { ok: false; totpRequired: true };

export async function login(username: string, password: string, totp?: string): Promise<LoginResult> {
  const body: Record<string, string> = { username, password };
  if (totp) body.totp = totp.trim();
  const res = await postJSON<{ totp_required?: boolean; user?: string; role?: Role; csrf_token?: string }>(
    '/api/auth/login',
    body,
  );
  if (res.totp_required) return { ok: false, totpRequired: true };
  setCsrf(res.csrf_token ?? null);
  auth.notice = null;
  // The status carries the rest (totp_enabled, terminal_enabled).
  await loadStatus();
  return { ok: true };
}

export async function logout(): Promise<void> {
  try {
    await postJSON('/api/auth/logout');
  } catch (e) {
    // Already logged out server-side is fine; anything else too: the cookie is
    // HttpOnly, so the best we can do is forget the session here.
    if (!(e instanceof ApiError)) console.warn('proxwatch: logout failed', e);
  }
  setCsrf(null);
  if (auth.status) auth.status = { ...auth.status, authenticated: false, user: undefined, role: undefined, csrf_token: undefined };
  await loadStatus();
}

let rechecking = false;

/** Any API call that answers 401/403-setup sends the app back to the gate. */
export function installAuthFailureHandler(): void {
  onAuthFailure((kind) => {
    if (!auth.status) return;
    if (kind === 'setup_required') {
      if (!auth.status.setup_required) auth.status = { ...auth.status, setup_required: true, authenticated: false };
      return;
    }
    if (auth.status.authenticated) {
      auth.notice = 'Your session ended; log in again.';
      setCsrf(null);
      auth.status = { ...auth.status, authenticated: false };
    }
  });
}

/** Asks the server whether the session still holds (the live stream hides its status codes). */
export async function recheckSession(): Promise<void> {
  if (rechecking || !auth.status?.authenticated) return;
  rechecking = true;
  try {
    const s = await getJSON<AuthStatus>('/api/auth/status');
    if (!s.authenticated && auth.status?.authenticated) {
      auth.notice = 'Your session ended; log in again.';
    }
    setCsrf(s.csrf_token ?? null);
    auth.status = s;
  } catch {
    // Unreachable: the connection banner says so; the session may well be fine.
  } finally {
    rechecking = false;
  }
}
