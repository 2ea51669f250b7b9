DROP INDEX users_refold_pending_idx;
ALTER TABLE users DROP COLUMN family_name_lower;
ALTER TABLE users DROP COLUMN given_name_lower;
ALTER TABLE users DROP COLUMN display_name_lower;
