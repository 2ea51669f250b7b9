-- Preset changes reach existing orgs (issue "6 of 11"): each org holds its
-- own copy of its preset's catalogue and built-in roles. Right after the
-- migrations, the gateway compares every org whose row here is missing or
-- names an older preset text with the preset it was created from, brings
-- its built-in records to the current text (custom roles untouched) and
-- audits each change (src/store/preset_sync.rs). This table remembers which
-- preset text each org was last brought to.
CREATE TABLE org_preset_sync (
    org_id       TEXT PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
    preset       TEXT NOT NULL,
    fingerprint  TEXT NOT NULL,
    synced_at    TIMESTAMP NOT NULL
);
