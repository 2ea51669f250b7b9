-- Seed 004 (issue "6 of 11", items 8, 10, 11).
-- Sub-workspaces: a workspace may have a parent in the same org (a tree; no
-- cycles and at most 8 levels, both checked by the service under the org lock).
ALTER TABLE workspaces ADD COLUMN parent_id TEXT REFERENCES workspaces (id);
CREATE INDEX workspaces_parent_idx ON workspaces (parent_id);

-- Roles: whether a workspace binding covers sub-workspaces, and the role's
-- limits on item types and fields (JSON: {"item_types": [...], "fields":
-- {"task": {"due_date": "read_only"}}}).
ALTER TABLE roles ADD COLUMN inherits_to_children BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE roles ADD COLUMN item_restrictions TEXT NOT NULL DEFAULT '{}';

-- Item types of an org with their fields (JSON array of {"key","name"}).
CREATE TABLE item_types (
    org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    key         TEXT NOT NULL,
    name        TEXT NOT NULL,
    fields      TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, key)
);

-- Item types are part of the compiled policy: announce changes like roles.
CREATE TRIGGER item_types_invalidate AFTER INSERT OR UPDATE OR DELETE ON item_types
    FOR EACH ROW EXECUTE FUNCTION rollcall_notify_org('org_id');
