DROP TABLE login_links;
DROP TABLE sessions;
DROP TABLE outbox;
DROP TABLE invites;
