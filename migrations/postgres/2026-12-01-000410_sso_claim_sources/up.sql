-- Role sources from SSO claims (issue "8 of 11", item 6). Keep migrations/sqlite in step.
--
-- 1. The groups (claim or attribute values) the IdP sent at the last login
--    through each identity, a JSON array of strings: the login path stores
--    them, and every re-evaluation of a user's role (an SSO login or a SCIM
--    group change) matches them against the connection's sso_claim mappings
--    (src/service/role_sources.rs).
ALTER TABLE identities ADD COLUMN groups TEXT NOT NULL DEFAULT '[]';

-- 2. sso_claim mappings used to accept any source string. One whose source is
--    not an IdP connection of its org can never match anything: it is removed,
--    and each removal audited (actor: the system) with the mapping as the API
--    shows it (service::roles::mapping_view: role key, workspace slugs) as the
--    before state.
INSERT INTO audit_events (id, org_id, occurred_at, actor_kind, actor_id, actor_label, action,
                          target_kind, target_id, before_state, after_state, request_id)
SELECT gen_random_uuid()::text, m.org_id, (now() AT TIME ZONE 'UTC'), 'system', NULL, 'rollcall',
       'group_mapping.removed_orphan', 'group_mapping', m.id,
       json_build_object(
           'id', m.id,
           'kind', m.source_kind,
           'source', m.source_id,
           'group', m.group_key,
           'role', (SELECT r.key FROM roles r WHERE r.id = m.role_id),
           'workspaces', (SELECT COALESCE(json_agg(COALESCE(w.slug, e.value) ORDER BY e.n), '[]'::json)
                          FROM json_array_elements_text(m.workspaces::json) WITH ORDINALITY AS e(value, n)
                          LEFT JOIN workspaces w ON w.id = e.value),
           'priority', m.priority
       )::text,
       NULL, NULL
FROM group_mappings m
WHERE m.source_kind = 'sso_claim'
  AND NOT EXISTS (SELECT 1 FROM idp_connections c WHERE c.id = m.source_id AND c.org_id = m.org_id);

DELETE FROM group_mappings m
WHERE m.source_kind = 'sso_claim'
  AND NOT EXISTS (SELECT 1 FROM idp_connections c WHERE c.id = m.source_id AND c.org_id = m.org_id);

-- 3. The users signed in through a connection (re-evaluated when one of its
--    mappings is created or deleted).
CREATE INDEX identities_connection_idx ON identities (connection_id);
