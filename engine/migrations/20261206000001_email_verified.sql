-- Issue 22: an account's address is proven by a link sent to it. Accounts from before this
-- was asked keep receiving their email: they are counted as verified from their creation
-- (docs/architecture/auth.md, "Verified email"). New accounts start unverified.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;
UPDATE users SET email_verified_at = created_at;
