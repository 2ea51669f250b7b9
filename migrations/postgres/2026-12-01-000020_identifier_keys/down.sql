DROP TABLE user_key_collisions;
DROP TABLE identifier_key_state;
