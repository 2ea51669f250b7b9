-- One Unicode case folding for SCIM filters (RFC 7644 §3.4.2.2, caseExact
-- false): the folded forms of displayName, name.givenName and
-- name.familyName are computed in Rust (`domain::names::canonical_lower`) and
-- stored, because lower() folds only ASCII here and in PostgreSQL. The columns
-- start empty; `rollcall migrate` (and `serve`) fills every row the partial
-- index below still lists, so the index is empty once that step is done.
-- Keep migrations/postgres in step.

ALTER TABLE users ADD COLUMN display_name_lower TEXT;
ALTER TABLE users ADD COLUMN given_name_lower TEXT;
ALTER TABLE users ADD COLUMN family_name_lower TEXT;
CREATE INDEX users_refold_pending_idx ON users (id)
    WHERE (display_name IS NOT NULL AND display_name_lower IS NULL)
       OR (given_name IS NOT NULL AND given_name_lower IS NULL)
       OR (family_name IS NOT NULL AND family_name_lower IS NULL);
