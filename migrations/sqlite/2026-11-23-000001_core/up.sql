-- Core records (SPEC §1): organizations, workspaces, SCIM directories, users,
-- identities, groups with memberships as rows, API keys, audit events.
-- Shared SQL types only (TEXT ids and JSON, TIMESTAMP in UTC): the same diesel
-- schema serves PostgreSQL and SQLite. Keep migrations/postgres in step.

CREATE TABLE orgs (
    id              TEXT PRIMARY KEY,
    slug            TEXT NOT NULL,
    name            TEXT NOT NULL,
    settings        TEXT NOT NULL,
    policy_version  BIGINT NOT NULL DEFAULT 1,
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX orgs_slug_key ON orgs (slug);

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    slug        TEXT NOT NULL,
    name        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX workspaces_org_slug_key ON workspaces (org_id, slug);

CREATE TABLE scim_directories (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX scim_directories_org_name_key ON scim_directories (org_id, name);

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_name         TEXT NOT NULL,
    user_name_lower   TEXT NOT NULL,
    email             TEXT,
    email_lower       TEXT,
    given_name        TEXT,
    family_name       TEXT,
    display_name      TEXT,
    external_id       TEXT,
    directory_id      TEXT REFERENCES scim_directories (id) ON DELETE SET NULL,
    status            TEXT NOT NULL,
    source            TEXT NOT NULL,
    scim              TEXT NOT NULL,
    version           BIGINT NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    deprovisioned_at  TIMESTAMP
);
-- Uniqueness ignores deprovisioned users so that re-provisioning works.
CREATE UNIQUE INDEX users_org_user_name_lower_key ON users (org_id, user_name_lower)
    WHERE status <> 'deprovisioned';
CREATE UNIQUE INDEX users_org_email_lower_key ON users (org_id, email_lower)
    WHERE status <> 'deprovisioned' AND email_lower IS NOT NULL;
CREATE UNIQUE INDEX users_directory_external_id_key ON users (directory_id, external_id)
    WHERE status <> 'deprovisioned' AND external_id IS NOT NULL;
CREATE INDEX users_org_created_idx ON users (org_id, created_at, id);
-- A directory's live users in listing order (SCIM paging walks this index).
CREATE INDEX users_directory_live_idx ON users (directory_id, created_at, id)
    WHERE status <> 'deprovisioned';

CREATE TABLE identities (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL,
    issuer        TEXT NOT NULL,
    subject       TEXT NOT NULL,
    email         TEXT,
    created_at    TIMESTAMP NOT NULL,
    last_seen_at  TIMESTAMP
);
CREATE UNIQUE INDEX identities_org_issuer_subject_key ON identities (org_id, issuer, subject);
CREATE INDEX identities_user_idx ON identities (user_id);

CREATE TABLE groups (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    directory_id        TEXT REFERENCES scim_directories (id) ON DELETE CASCADE,
    display_name        TEXT NOT NULL,
    display_name_lower  TEXT NOT NULL,
    external_id         TEXT,
    scim                TEXT NOT NULL,
    version             BIGINT NOT NULL,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX groups_directory_display_name_lower_key ON groups (directory_id, display_name_lower);
CREATE UNIQUE INDEX groups_org_display_name_lower_key ON groups (org_id, display_name_lower)
    WHERE directory_id IS NULL;
CREATE UNIQUE INDEX groups_directory_external_id_key ON groups (directory_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX groups_org_created_idx ON groups (org_id, created_at, id);
CREATE INDEX groups_directory_created_idx ON groups (directory_id, created_at, id);

CREATE TABLE group_members (
    group_id    TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_idx ON group_members (user_id);

CREATE TABLE api_keys (
    id              TEXT PRIMARY KEY,
    org_id          TEXT REFERENCES orgs (id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    role_key        TEXT,
    instance_admin  BOOLEAN NOT NULL,
    secret_hash     TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    last_used_at    TIMESTAMP,
    revoked_at      TIMESTAMP
);
CREATE INDEX api_keys_org_idx ON api_keys (org_id, created_at);

CREATE TABLE audit_events (
    id            TEXT PRIMARY KEY,
    org_id        TEXT,
    occurred_at   TIMESTAMP NOT NULL,
    actor_kind    TEXT NOT NULL,
    actor_id      TEXT,
    actor_label   TEXT NOT NULL,
    action        TEXT NOT NULL,
    target_kind   TEXT NOT NULL,
    target_id     TEXT,
    before_state  TEXT,
    after_state   TEXT,
    request_id    TEXT
);
CREATE INDEX audit_events_org_time_idx ON audit_events (org_id, occurred_at, id);
CREATE INDEX audit_events_org_target_idx ON audit_events (org_id, target_id, occurred_at);
CREATE INDEX audit_events_org_actor_idx ON audit_events (org_id, actor_id, occurred_at);
