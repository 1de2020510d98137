// Shapes of /api/auth/* lists, and a counter the Security page's sections bump
// after a change so the auth event log (and the other lists) reload.

export interface SessionRow {
  id: string;
  user: string;
  created: number;
  last_seen: number;
  expires: number;
  ip: string | null;
  user_agent: string | null;
  current: boolean;
}

export interface TokenRow {
  id: string;
  user: string;
  name: string;
  scope: 'read' | 'operate' | 'admin';
  created: number;
  expires: number | null;
  last_used: number | null;
  last_ip: string | null;
}

export interface UserRow {
  name: string;
  role: 'viewer' | 'operator' | 'admin';
  disabled: boolean;
  totp_enabled: boolean;
  created: number;
}

export interface AuthEvent {
  id: number;
  ts: number;
  kind: string;
  user: string | null;
  ip: string | null;
  detail: string;
  /** Identical events coalesced into this row (a burst of failures), and the last one's time. */
  count: number;
  last_ts: number;
}

export const changes = $state({ n: 0 });

export function changed(): void {
  changes.n++;
}
