-- Roles, permissions and workspace access (SPEC §2). The catalogue is per org
-- (seeded from the org's preset); grants are rows (two-state org-level and
-- tri-state module-level alike: a missing row is "not granted" / "use default").
-- users.access is the materialised snapshot the permission engine reads
-- (bindings incl. group bindings, overrides, sets, workspace access), rewritten
-- in the same transaction as any row it is derived from, so a check is one
-- indexed read. Keep migrations/postgres in step.

CREATE TABLE permissions (
    org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    position    INTEGER NOT NULL,
    definition  TEXT NOT NULL,
    PRIMARY KEY (org_id, key)
);

CREATE TABLE roles (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    builtin      BOOLEAN NOT NULL,
    binds_at     TEXT NOT NULL,
    visibility   TEXT NOT NULL,
    anonymized   BOOLEAN NOT NULL,
    owner        BOOLEAN NOT NULL,
    attributes   TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX roles_org_key_key ON roles (org_id, key);

CREATE TABLE role_grants (
    role_id     TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission  TEXT NOT NULL,
    effect      TEXT NOT NULL,
    PRIMARY KEY (role_id, permission)
);

CREATE TABLE permission_sets (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    application  TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX permission_sets_org_name_key ON permission_sets (org_id, name);

CREATE TABLE permission_set_items (
    set_id      TEXT NOT NULL REFERENCES permission_sets (id) ON DELETE CASCADE,
    permission  TEXT NOT NULL,
    PRIMARY KEY (set_id, permission)
);

CREATE TABLE role_permission_sets (
    role_id  TEXT NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    set_id   TEXT NOT NULL REFERENCES permission_sets (id) ON DELETE CASCADE,
    PRIMARY KEY (role_id, set_id)
);
CREATE INDEX role_permission_sets_set_idx ON role_permission_sets (set_id);

CREATE TABLE user_permission_sets (
    user_id  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    set_id   TEXT NOT NULL REFERENCES permission_sets (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, set_id)
);
CREATE INDEX user_permission_sets_set_idx ON user_permission_sets (set_id);

CREATE TABLE org_default_permissions (
    org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    permission  TEXT NOT NULL,
    PRIMARY KEY (org_id, permission)
);

CREATE TABLE group_mappings (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    source_kind  TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    group_key    TEXT NOT NULL,
    role_id      TEXT NOT NULL REFERENCES roles (id),
    workspaces   TEXT NOT NULL,
    priority     INTEGER NOT NULL,
    created_at   TIMESTAMP NOT NULL
);
CREATE INDEX group_mappings_source_idx ON group_mappings (org_id, source_id);
CREATE INDEX group_mappings_role_idx ON group_mappings (role_id);

CREATE TABLE bindings (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id        TEXT REFERENCES users (id) ON DELETE CASCADE,
    group_id       TEXT REFERENCES groups (id) ON DELETE CASCADE,
    role_id        TEXT NOT NULL REFERENCES roles (id),
    scope_kind     TEXT NOT NULL,
    workspace_id   TEXT REFERENCES workspaces (id) ON DELETE CASCADE,
    resource_type  TEXT,
    resource_id    TEXT,
    source         TEXT NOT NULL,
    mapping_id     TEXT REFERENCES group_mappings (id) ON DELETE SET NULL,
    created_at     TIMESTAMP NOT NULL,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
-- One org-level role per user. Indexes on columns that are mostly NULL are
-- partial: a row without that reference costs no index entry.
CREATE UNIQUE INDEX bindings_user_org_key ON bindings (user_id)
    WHERE scope_kind = 'org' AND user_id IS NOT NULL;
CREATE INDEX bindings_user_idx ON bindings (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX bindings_group_idx ON bindings (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX bindings_role_idx ON bindings (role_id);
CREATE INDEX bindings_workspace_idx ON bindings (workspace_id) WHERE workspace_id IS NOT NULL;
CREATE INDEX bindings_mapping_idx ON bindings (mapping_id) WHERE mapping_id IS NOT NULL;

CREATE TABLE user_overrides (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission     TEXT NOT NULL,
    effect         TEXT NOT NULL,
    scope_kind     TEXT NOT NULL,
    workspace_id   TEXT REFERENCES workspaces (id) ON DELETE CASCADE,
    resource_type  TEXT,
    resource_id    TEXT,
    created_at     TIMESTAMP NOT NULL
);
CREATE INDEX user_overrides_user_idx ON user_overrides (user_id);
CREATE INDEX user_overrides_workspace_idx ON user_overrides (workspace_id);

CREATE TABLE user_workspaces (
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, workspace_id)
);
CREATE INDEX user_workspaces_workspace_idx ON user_workspaces (workspace_id);

ALTER TABLE users ADD COLUMN workspaces_restricted BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE users ADD COLUMN home_workspace_id TEXT REFERENCES workspaces (id) ON DELETE SET NULL;
ALTER TABLE users ADD COLUMN access TEXT NOT NULL DEFAULT '{}';
CREATE INDEX users_home_workspace_idx ON users (home_workspace_id) WHERE home_workspace_id IS NOT NULL;

-- A personal API key acts as its user (with the user's access and status).
ALTER TABLE api_keys ADD COLUMN user_id TEXT REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX api_keys_user_idx ON api_keys (user_id) WHERE user_id IS NOT NULL;
