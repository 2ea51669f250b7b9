DROP TABLE scim_values;
DROP TABLE scim_tokens;
