-- Access rules on every path (issue "4 of 11"). Keep migrations/sqlite in step.
--
-- 1. Two gateway permissions join the fixed catalogue of every existing org:
--    gateway.keys.manage (API keys) and gateway.access.read (roles,
--    workspaces, users' access, authz checks). Roles that could do those
--    things before keep them: holders of gateway.settings.manage managed keys,
--    holders of gateway.users.manage read access.
INSERT INTO permissions (org_id, key, position, definition)
SELECT o.id, 'gateway.keys.manage',
       (SELECT COALESCE(MAX(p.position), 0) + 1 FROM permissions p WHERE p.org_id = o.id),
       '{"key":"gateway.keys.manage","description":"Create, list and revoke API keys","scope":"org","kind":"plain"}'
FROM orgs o
WHERE NOT EXISTS (SELECT 1 FROM permissions p WHERE p.org_id = o.id AND p.key = 'gateway.keys.manage');

INSERT INTO permissions (org_id, key, position, definition)
SELECT o.id, 'gateway.access.read',
       (SELECT COALESCE(MAX(p.position), 0) + 1 FROM permissions p WHERE p.org_id = o.id),
       '{"key":"gateway.access.read","description":"Read roles, workspaces and users'' access; ask authorization checks","scope":"org","kind":"plain"}'
FROM orgs o
WHERE NOT EXISTS (SELECT 1 FROM permissions p WHERE p.org_id = o.id AND p.key = 'gateway.access.read');

INSERT INTO role_grants (role_id, permission, effect)
SELECT g.role_id, 'gateway.keys.manage', 'allow' FROM role_grants g
WHERE g.permission = 'gateway.settings.manage' AND g.effect = 'allow'
  AND NOT EXISTS (SELECT 1 FROM role_grants x WHERE x.role_id = g.role_id AND x.permission = 'gateway.keys.manage');

INSERT INTO role_grants (role_id, permission, effect)
SELECT g.role_id, 'gateway.access.read', 'allow' FROM role_grants g
WHERE g.permission = 'gateway.users.manage' AND g.effect = 'allow'
  AND NOT EXISTS (SELECT 1 FROM role_grants x WHERE x.role_id = g.role_id AND x.permission = 'gateway.access.read');

-- 2. The built-in `access_reader` role (only gateway.access.read), the role
--    of API keys created through the API without one.
INSERT INTO roles (id, org_id, key, name, description, builtin, binds_at, visibility,
                   anonymized, owner, attributes, created_at, updated_at)
SELECT gen_random_uuid()::text, o.id, 'access_reader', 'Access Reader',
       'Reads roles, workspaces and users'' access and asks authorization checks (the default role of API keys)',
       TRUE, 'org', 'yes', FALSE, FALSE, '{}', (now() AT TIME ZONE 'UTC'), (now() AT TIME ZONE 'UTC')
FROM orgs o
WHERE NOT EXISTS (SELECT 1 FROM roles r WHERE r.org_id = o.id AND r.key = 'access_reader');

INSERT INTO role_grants (role_id, permission, effect)
SELECT r.id, 'gateway.access.read', 'allow' FROM roles r
WHERE r.key = 'access_reader'
  AND NOT EXISTS (SELECT 1 FROM role_grants x WHERE x.role_id = r.id AND x.permission = 'gateway.access.read');

UPDATE orgs SET policy_version = policy_version + 1;

-- 3. An API key is either an instance-admin key (no org, role or user) or an
--    org key with exactly one of a role and a user. Rows that are neither
--    could only ever be refused; they are removed, then kept out.
DELETE FROM api_keys
WHERE NOT ((instance_admin AND org_id IS NULL AND role_key IS NULL AND user_id IS NULL)
        OR (NOT instance_admin AND org_id IS NOT NULL AND ((role_key IS NULL) <> (user_id IS NULL))));
ALTER TABLE api_keys ADD CONSTRAINT api_keys_kind_check
    CHECK ((instance_admin AND org_id IS NULL AND role_key IS NULL AND user_id IS NULL)
        OR (NOT instance_admin AND org_id IS NOT NULL AND ((role_key IS NULL) <> (user_id IS NULL))));

-- 4. Each SCIM directory has a ceiling: the org-level roles (ids, a JSON
--    array) and workspaces (ids, a JSON array; NULL = every workspace) it may
--    assign. Existing directories get every org-level role but owner roles.
ALTER TABLE scim_directories ADD COLUMN ceiling_roles TEXT NOT NULL DEFAULT '[]';
ALTER TABLE scim_directories ADD COLUMN ceiling_workspaces TEXT;
UPDATE scim_directories d SET ceiling_roles = COALESCE(
    (SELECT json_agg(r.id ORDER BY r.created_at, r.id)::text FROM roles r
     WHERE r.org_id = d.org_id AND r.binds_at = 'org' AND NOT r.owner),
    '[]');
