-- The removed orphan mappings are not restored (they could never match).
DROP INDEX identities_connection_idx;
ALTER TABLE identities DROP COLUMN groups;
