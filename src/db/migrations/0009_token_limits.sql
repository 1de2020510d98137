-- API tokens fit for automation (issue 14): a free-text description, and the client addresses
-- (comma-separated CIDRs) a token is accepted from; '' accepts any.
ALTER TABLE api_tokens ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN allowed_ips TEXT NOT NULL DEFAULT '';
