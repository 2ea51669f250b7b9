-- SCIM 2.0 (RFC 7643/7644): directory bearer tokens (hashed), and the side
-- table that makes filters on multi-valued and extension attributes SQL
-- (`emails[type eq "work"].value`, enterprise employeeNumber, …): one row per
-- value, indexed by (directory, attribute, lower-cased value), queried with
-- IN (subquery) identically on both backends. Keep migrations/sqlite in step.

CREATE TABLE scim_tokens (
    id            TEXT PRIMARY KEY,
    directory_id  TEXT NOT NULL REFERENCES scim_directories (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    created_at    TIMESTAMP NOT NULL,
    last_used_at  TIMESTAMP,
    revoked_at    TIMESTAMP
);
CREATE INDEX scim_tokens_directory_idx ON scim_tokens (directory_id, created_at);

CREATE TABLE scim_values (
    resource_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    directory_id  TEXT NOT NULL REFERENCES scim_directories (id) ON DELETE CASCADE,
    attr          TEXT NOT NULL,
    type          TEXT COLLATE "C",
    value         TEXT COLLATE "C" NOT NULL,
    value_lower   TEXT COLLATE "C" NOT NULL,
    is_primary    BOOLEAN NOT NULL
);
CREATE INDEX scim_values_lookup_idx ON scim_values (directory_id, attr, value_lower);
CREATE INDEX scim_values_resource_idx ON scim_values (resource_id);
