-- Orders keep a snapshot of what was bought and at what price; totals are integer cents.
CREATE TABLE orders (
    id              TEXT   PRIMARY KEY,          -- random UUID: unguessable
    reference       TEXT   NOT NULL,             -- short code shown to people
    user_id         BIGINT REFERENCES users(id),
    email           TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    currency        TEXT   NOT NULL,
    subtotal_cents  BIGINT NOT NULL,
    shipping_cents  BIGINT NOT NULL,
    total_cents     BIGINT NOT NULL,
    ship_name       TEXT   NOT NULL,
    ship_line1      TEXT   NOT NULL,
    ship_line2      TEXT   NOT NULL,
    ship_city       TEXT   NOT NULL,
    ship_postcode   TEXT   NOT NULL,
    ship_country    TEXT   NOT NULL,
    access_token    TEXT   NOT NULL,             -- the guest's confirmation link
    idempotency_key TEXT   NOT NULL UNIQUE,      -- one key, one order
    request_hash    TEXT   NOT NULL,             -- a replay must match what was first sent
    payment_ref     TEXT   NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX orders_user ON orders (user_id, created_at DESC);

CREATE TABLE order_lines (
    order_id         TEXT   NOT NULL REFERENCES orders(id),
    product_id       BIGINT NOT NULL,
    name             TEXT   NOT NULL,
    unit_price_cents BIGINT NOT NULL,
    quantity         BIGINT NOT NULL CHECK (quantity > 0),
    line_total_cents BIGINT NOT NULL,
    PRIMARY KEY (order_id, product_id)
);

-- Shopper signals for recommendations: views, cart adds, purchases. `subject` is 'u:<id>' or
-- 'a:<anonymous id>'.
CREATE TABLE events (
    id         BIGSERIAL PRIMARY KEY,
    subject    TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    product_id BIGINT NOT NULL,
    order_id   TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_subject ON events (subject, created_at DESC);
CREATE INDEX events_kind_time ON events (kind, created_at);
