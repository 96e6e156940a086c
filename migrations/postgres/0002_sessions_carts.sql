-- Sessions for the embedded default (with REDIS_URL they live in Redis instead).
CREATE TABLE sessions (
    id         TEXT   PRIMARY KEY,
    data       TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Carts. `owner` is 'g:<hash of the session id>' for a guest or 'u:<user id>' for an account.
-- Every change bumps `version` in the same transaction, which also serialises writers.
CREATE TABLE carts (
    id         BIGSERIAL PRIMARY KEY,
    owner      TEXT   NOT NULL UNIQUE,
    version    BIGINT NOT NULL DEFAULT 0,
    updated_at BIGINT NOT NULL
);
CREATE INDEX carts_updated ON carts (updated_at);

CREATE TABLE cart_items (
    cart_id     BIGINT NOT NULL REFERENCES carts(id) ON DELETE CASCADE,
    product_id  BIGINT NOT NULL,
    quantity    BIGINT NOT NULL CHECK (quantity BETWEEN 1 AND 99),
    price_cents BIGINT NOT NULL,
    position    BIGINT NOT NULL,
    PRIMARY KEY (cart_id, product_id)
);
