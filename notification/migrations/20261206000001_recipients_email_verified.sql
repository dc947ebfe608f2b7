-- Issue 22: until an account's address is verified, it gets only security email (the
-- verification link, a password reset). Recipients from before this was asked were being
-- mailed already and stay so; new ones start unverified, and `email_verified` says otherwise.
ALTER TABLE recipients ADD COLUMN email_verified boolean NOT NULL DEFAULT true;
ALTER TABLE recipients ALTER COLUMN email_verified SET DEFAULT false;
