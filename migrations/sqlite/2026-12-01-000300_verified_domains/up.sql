-- Verified domains (issue "8 of 11" item 1): an org proves a domain by
-- publishing the challenge in a DNS TXT record at
-- `_rollcall-challenge.<domain>`. A domain may be claimed by several orgs
-- while unverified; once verified it belongs to one org only.
CREATE TABLE org_domains (
    org_id       TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
    domain       TEXT NOT NULL,
    challenge    TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    verified_at  TIMESTAMP,
    PRIMARY KEY (org_id, domain)
);
CREATE UNIQUE INDEX org_domains_verified_key ON org_domains (domain) WHERE verified_at IS NOT NULL;

-- SSO-default is now off unless email domains are allowed (see the
-- PostgreSQL twin).
UPDATE orgs
SET settings = json_set(settings, '$.provisioning.sso_default', json('false'))
WHERE COALESCE(json_array_length(settings, '$.allowed_email_domains'), 0) = 0
  AND json_extract(settings, '$.provisioning.sso_default') = 1;
