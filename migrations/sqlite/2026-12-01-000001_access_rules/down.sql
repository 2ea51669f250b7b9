ALTER TABLE scim_directories DROP COLUMN ceiling_workspaces;
ALTER TABLE scim_directories DROP COLUMN ceiling_roles;
DROP TRIGGER api_keys_kind_check_insert;
DROP TRIGGER api_keys_kind_check_update;
DELETE FROM roles WHERE key = 'access_reader' AND builtin;
DELETE FROM role_grants WHERE permission IN ('gateway.keys.manage', 'gateway.access.read');
DELETE FROM permissions WHERE key IN ('gateway.keys.manage', 'gateway.access.read');
UPDATE orgs SET policy_version = policy_version + 1;
