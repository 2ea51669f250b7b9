ALTER TABLE scim_directories DROP COLUMN ceiling_workspaces;
ALTER TABLE scim_directories DROP COLUMN ceiling_roles;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_kind_check;
DELETE FROM roles WHERE key = 'access_reader' AND builtin;
DELETE FROM role_grants WHERE permission IN ('gateway.keys.manage', 'gateway.access.read');
DELETE FROM permissions WHERE key IN ('gateway.keys.manage', 'gateway.access.read');
UPDATE orgs SET policy_version = policy_version + 1;
