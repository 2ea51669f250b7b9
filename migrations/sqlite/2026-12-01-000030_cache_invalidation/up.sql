-- Cache invalidation between nodes is PostgreSQL's (LISTEN/NOTIFY triggers,
-- see migrations/postgres). SQLite serves a single node, whose caches expire
-- by their timer and are dropped at once by its own changes: nothing to add.
SELECT 1;
