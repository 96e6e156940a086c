-- Catalogue. Money is integer cents; times are unix milliseconds (portable across SQLite and PostgreSQL).
CREATE TABLE categories (
    id          BIGINT  PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    position    BIGINT  NOT NULL DEFAULT 0
);

CREATE TABLE products (
    id          BIGINT  PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    category_id BIGINT  NOT NULL REFERENCES categories(id),
    price_cents BIGINT  NOT NULL CHECK (price_cents >= 0),
    currency    TEXT    NOT NULL DEFAULT 'USD',
    stock       BIGINT  NOT NULL CHECK (stock >= 0),
    active      BIGINT  NOT NULL DEFAULT 1,
    featured    BIGINT  NOT NULL DEFAULT 0,
    image       TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    popularity  BIGINT  NOT NULL DEFAULT 0,
    -- lower-cased name + category + description, built in Rust so matching is Unicode-aware
    search_text TEXT    NOT NULL
);

CREATE INDEX products_category_popularity ON products (category_id, popularity DESC, id);
CREATE INDEX products_category_price ON products (category_id, price_cents, id);
CREATE INDEX products_category_name ON products (category_id, name, id);
CREATE INDEX products_category_created ON products (category_id, created_at DESC, id);
CREATE INDEX products_featured ON products (featured, popularity DESC);
