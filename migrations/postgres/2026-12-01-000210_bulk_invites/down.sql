DROP TABLE bulk_jobs;
DROP TABLE idempotency_keys;
