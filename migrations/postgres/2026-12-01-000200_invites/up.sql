-- Invitations, the transactional email outbox, browser sessions and
-- emailed sign-in links (issue "7 of 11").

-- One row per invitation. Each invite message carries its own token; only
-- the current message's token (its id and the SHA-256 of its secret) is
-- kept, so a resend invalidates the earlier link. Status: pending, accepted,
-- revoked ("expired" is a pending invite past expires_at).
CREATE TABLE invites (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email         TEXT NOT NULL,
    name          TEXT,
    role_id       TEXT,
    workspaces    TEXT,
    invited_by    TEXT NOT NULL,
    status        TEXT NOT NULL,
    token_id      TEXT NOT NULL,
    token_hash    TEXT NOT NULL,
    message_id    TEXT,
    sends         BIGINT NOT NULL DEFAULT 1,
    expires_at    TIMESTAMP NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    updated_at    TIMESTAMP NOT NULL,
    closed_at     TIMESTAMP
);
CREATE UNIQUE INDEX invites_token_id_key ON invites (token_id);
-- At most one pending invite per user.
CREATE UNIQUE INDEX invites_pending_user_key ON invites (user_id) WHERE status = 'pending';
CREATE INDEX invites_org_created_idx ON invites (org_id, created_at, id);

-- The transactional outbox: a message is queued in the same transaction as
-- the change that sends it. body holds the rendered message (RFC 5322
-- bytes), encrypted with the key from configuration; it is wiped (NULL) once
-- the message is sent or finally failed. Status: pending, sent, failed.
-- A worker claims a row by setting claimed_until (a lease); a worker that
-- dies leaves the lease to expire and the row is sent again.
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    org_id           TEXT REFERENCES orgs (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    ref_id           TEXT,
    sender           TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    body             BYTEA,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TIMESTAMP NOT NULL,
    claimed_until    TIMESTAMP,
    last_error       TEXT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    sent_at          TIMESTAMP
);
CREATE INDEX outbox_due_idx ON outbox (status, next_attempt_at);
CREATE INDEX outbox_ref_idx ON outbox (ref_id);

-- Browser sessions: the cookie carries rss_{id}_{secret}; only the SHA-256
-- of the secret is kept. A session is valid while ended_at is NULL, its
-- idle and absolute deadlines have not passed and its user is active.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash   TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    ended_at      TIMESTAMP
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

-- Emailed one-time sign-in links (orgs without an IdP).
CREATE TABLE login_links (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash   TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    used_at       TIMESTAMP
);
CREATE INDEX login_links_user_idx ON login_links (user_id);
