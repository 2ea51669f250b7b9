-- userName and email are compared by a Unicode comparison key (NFKC, case
-- folded, invisible characters dropped; src/domain/names.rs). SQL cannot
-- compute it, so the stored user_name_lower / email_lower columns are
-- recomputed by the gateway right after migrating (src/store/identifier_keys.rs),
-- once per key version recorded here.
CREATE TABLE identifier_key_state (
    id       BIGINT PRIMARY KEY,
    version  BIGINT NOT NULL
);
INSERT INTO identifier_key_state (id, version) VALUES (1, 0);

-- Live users whose identifiers became equal under the new key. They are kept
-- (and reported in the audit log) rather than failing the upgrade; a write to
-- any of them that keeps the shared key is refused with 409.
CREATE TABLE user_key_collisions (
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id          TEXT NOT NULL,
    field           TEXT NOT NULL,
    comparison_key  TEXT NOT NULL,
    PRIMARY KEY (user_id, field)
);
CREATE INDEX user_key_collisions_org_key ON user_key_collisions (org_id, field, comparison_key);
