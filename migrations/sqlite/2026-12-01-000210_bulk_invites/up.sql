-- Bulk invites (issue "7 of 11"): Idempotency-Key records and jobs for
-- large batches.

-- A retried request with the same key (per org) gets the first answer
-- again; the same key with another body is a 422. Kept 24 hours.
-- status 0: the first request is still running.
CREATE TABLE idempotency_keys (
    org_id        TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    status        INTEGER NOT NULL,
    response      TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, key)
);

-- Batches above invites.bulk_job_threshold rows run as a job. Rows are
-- processed in chunks; each chunk commits together with `done` and its
-- results, so a restart resumes where the last commit left off. Status:
-- queued, running, done. A node holds a running job by its lease.
CREATE TABLE bulk_jobs (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    actor            TEXT NOT NULL,
    request_id       TEXT,
    atomic           BOOLEAN NOT NULL,
    replace_pending  BOOLEAN NOT NULL,
    rows             TEXT NOT NULL,
    total            BIGINT NOT NULL,
    done             BIGINT NOT NULL,
    results          TEXT NOT NULL,
    status           TEXT NOT NULL,
    claimed_until    TIMESTAMP,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP
);
CREATE INDEX bulk_jobs_status_idx ON bulk_jobs (status);

-- Inviting looks an address up among deprovisioned users too (a 409 naming
-- the status); live users have their partial unique indexes.
CREATE INDEX users_deprovisioned_email_idx ON users (org_id, email_lower)
    WHERE status = 'deprovisioned';

-- A user's invites (the partial unique index on pending ones cannot serve a
-- prepared statement whose status is a bound value).
CREATE INDEX invites_user_idx ON invites (user_id);
