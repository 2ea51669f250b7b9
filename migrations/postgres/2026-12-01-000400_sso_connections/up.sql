-- Single sign-on (issue "8 of 11"): IdP connections, pre-login records, the
-- SAML assertion replay cache, and how each session was signed in.

-- One row per IdP connection of an org. `config` is the connection's JSON
-- settings without secrets (OIDC: issuer, client id, scopes, algorithms,
-- claim names; SAML: IdP entity id, SSO URL, pinned signing certificates,
-- attribute names); `secret` is the OIDC client secret sealed with
-- `sso.secret_key` and the row id as associated data. `trusted_domains` is
-- a JSON array of the org's verified domains this connection may vouch for.
-- A connection created by someone who is not an owner has owner_approved =
-- false until an owner approves it: until then it never links to or signs
-- in an owner.
CREATE TABLE idp_connections (
    id                     TEXT PRIMARY KEY,
    org_id                 TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    kind                   TEXT NOT NULL,
    name                   TEXT NOT NULL,
    config                 TEXT NOT NULL,
    secret                 BYTEA,
    trusted_domains        TEXT NOT NULL,
    enabled                BOOLEAN NOT NULL,
    owner_approved         BOOLEAN NOT NULL,
    created_by             TEXT,
    metadata_url           TEXT,
    metadata_refreshed_at  TIMESTAMP,
    created_at             TIMESTAMP NOT NULL,
    updated_at             TIMESTAMP NOT NULL
);
CREATE INDEX idp_connections_org_idx ON idp_connections (org_id);

-- A login in flight: written at /sso/.../start, consumed by the first
-- callback or ACS POST that presents it, whether the login then succeeds or
-- fails. id is the SHA-256 of the OIDC state or SAML RelayState value;
-- request_id is the SAML AuthnRequest ID that must come back as
-- InResponseTo; browser_hash the SHA-256 of the short-lived cookie that
-- binds the login to the browser that started it.
CREATE TABLE sso_logins (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    connection_id  TEXT NOT NULL REFERENCES idp_connections (id) ON DELETE CASCADE,
    request_id     TEXT,
    nonce          TEXT,
    pkce_verifier  TEXT,
    browser_hash   TEXT,
    return_to      TEXT,
    purpose        TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    consumed_at    TIMESTAMP
);
CREATE UNIQUE INDEX sso_logins_request_key ON sso_logins (request_id);
CREATE INDEX sso_logins_expires_idx ON sso_logins (expires_at);

-- SAML assertion ids seen, kept until the assertion could no longer be
-- accepted (its NotOnOrAfter plus skew): a second use is a replay on
-- every node.
CREATE TABLE saml_assertion_ids (
    issuer        TEXT NOT NULL,
    assertion_id  TEXT NOT NULL,
    expires_at    TIMESTAMP NOT NULL,
    PRIMARY KEY (issuer, assertion_id)
);
CREATE INDEX saml_assertion_ids_expires_idx ON saml_assertion_ids (expires_at);

-- How a session was signed in: email_link, invite, oidc or saml; for SSO the
-- connection and what IdP logout needs (SAML NameID and SessionIndex).
ALTER TABLE sessions ADD COLUMN method TEXT NOT NULL DEFAULT 'email_link';
ALTER TABLE sessions ADD COLUMN connection_id TEXT;
ALTER TABLE sessions ADD COLUMN idp_name_id TEXT;
ALTER TABLE sessions ADD COLUMN idp_session_index TEXT;
-- A step the user must finish before the session is usable (the first-login
-- workspace pick of SSO-default).
ALTER TABLE sessions ADD COLUMN pending TEXT;
