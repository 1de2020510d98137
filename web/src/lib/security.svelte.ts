// Shapes of /api/auth/* lists, and a counter the Security page's sections bump
// after a change so the auth event log (and the other lists) reload.

export type { AuthEvent } from './gen/AuthEvent';
export type { SessionInfo as SessionRow } from './gen/SessionInfo';
export type { TokenInfo as TokenRow } from './gen/TokenInfo';
export type { UserInfo as UserRow } from './gen/UserInfo';

export const changes = $state({ n: 0 });

export function changed(): void {
  changes.n++;
}
