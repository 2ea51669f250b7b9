DROP TABLE item_types;
ALTER TABLE roles DROP COLUMN item_restrictions;
ALTER TABLE roles DROP COLUMN inherits_to_children;
DROP INDEX workspaces_parent_idx;
ALTER TABLE workspaces DROP COLUMN parent_id;
