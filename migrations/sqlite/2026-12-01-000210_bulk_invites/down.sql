DROP INDEX invites_user_idx;
DROP INDEX users_deprovisioned_email_idx;
DROP TABLE bulk_jobs;
DROP TABLE idempotency_keys;
