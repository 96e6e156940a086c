-- Item-to-item neighbours, recomputed by a background task (or `server recs recompute`);
-- serving reads them into memory.
CREATE TABLE product_neighbours (
    product_id  INTEGER NOT NULL,
    rank        INTEGER NOT NULL,
    neighbour_id INTEGER NOT NULL,
    score       REAL    NOT NULL,
    PRIMARY KEY (product_id, rank)
);
CREATE INDEX events_product ON events (product_id);
