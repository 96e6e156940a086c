-- Price and stock edits, newest last, written in the edit's transaction. Every instance follows
-- this log every couple of seconds and drops what it cached about the products named, so an edit
-- reaches every cache even where the Redis broadcast does not (no Redis, or a missed message).
CREATE TABLE catalog_changes (
    id         INTEGER PRIMARY KEY,
    product_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX catalog_changes_created ON catalog_changes (created_at);
