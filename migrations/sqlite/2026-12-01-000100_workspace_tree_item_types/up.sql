-- Seed 004 (issue "6 of 11", items 8, 10, 11). See the PostgreSQL twin.
ALTER TABLE workspaces ADD COLUMN parent_id TEXT REFERENCES workspaces (id);
CREATE INDEX workspaces_parent_idx ON workspaces (parent_id);

ALTER TABLE roles ADD COLUMN inherits_to_children BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE roles ADD COLUMN item_restrictions TEXT NOT NULL DEFAULT '{}';

CREATE TABLE item_types (
    org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    name        TEXT NOT NULL,
    fields      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, key)
);
