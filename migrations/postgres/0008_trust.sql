-- Each version of a cart becomes at most one order: the order transaction inserts its row, so a
-- second tab, a retry with another idempotency key, or a stale copy of the cart finds it taken.
-- order_id is NULL when an interrupted checkout's version was voided (so it can never commit).
CREATE TABLE cart_orders (
    owner      TEXT    NOT NULL,
    version    BIGINT  NOT NULL,
    order_id   TEXT,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (owner, version)
);
CREATE INDEX cart_orders_created ON cart_orders (created_at);

-- Payment state of an order, apart from its status: 'authorized' until the capture succeeds
-- ('captured'), 'capture_failed' (retried, and shown to administrators), or 'voided'.
-- Orders placed before this migration were recorded as paid (a failed capture was only logged).
ALTER TABLE orders ADD COLUMN payment_state TEXT NOT NULL DEFAULT 'captured';
ALTER TABLE orders ADD COLUMN payment_error TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN payment_attempts BIGINT NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN payment_updated_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX orders_payment_open ON orders (payment_state, created_at) WHERE payment_state <> 'captured';

-- Sign-in attempt counters when there is no Redis: one row per key and window, changed by one
-- statement so concurrent attempts are all counted.
CREATE TABLE rate_limits (
    key         TEXT    PRIMARY KEY,
    count       BIGINT  NOT NULL,
    window_ends BIGINT  NOT NULL
);
CREATE INDEX rate_limits_window ON rate_limits (window_ends);

-- Which version of a guest cart a merge took: the same cart merged again later (new lines added
-- after a sign-in whose session was not saved) is merged again; the same version never is.
-- -1 for merges made before this migration (their guest carts were emptied by the merge).
ALTER TABLE cart_merges ADD COLUMN guest_version BIGINT NOT NULL DEFAULT -1;

-- When the account last signed out: a signed account cookie issued before it no longer stands
-- in for the session while the session store is unreachable.
ALTER TABLE users ADD COLUMN signed_out_at BIGINT NOT NULL DEFAULT 0;
