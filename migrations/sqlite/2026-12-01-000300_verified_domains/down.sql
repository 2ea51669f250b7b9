DROP TABLE org_domains;
