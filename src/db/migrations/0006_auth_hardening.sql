-- Access hardening (issue: access under attack).
-- A TOTP secret being set up waits here until confirmed; the enabled one stays in totp_sealed.
ALTER TABLE users ADD COLUMN totp_pending_sealed BLOB;
-- A burst of identical failures is one row: how many, and when the last one was.
ALTER TABLE auth_events ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
ALTER TABLE auth_events ADD COLUMN last_ts INTEGER NOT NULL DEFAULT 0;
UPDATE auth_events SET last_ts = ts;
