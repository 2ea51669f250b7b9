ALTER TABLE sessions DROP COLUMN pending;
ALTER TABLE sessions DROP COLUMN idp_session_index;
ALTER TABLE sessions DROP COLUMN idp_name_id;
ALTER TABLE sessions DROP COLUMN connection_id;
ALTER TABLE sessions DROP COLUMN method;
DROP TABLE saml_assertion_ids;
DROP TABLE sso_logins;
DROP TABLE idp_connections;
