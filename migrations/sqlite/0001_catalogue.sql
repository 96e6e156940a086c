-- Catalogue. Money is integer cents; times are unix milliseconds (portable across SQLite and PostgreSQL).
CREATE TABLE categories (
    id          INTEGER PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    position    INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL,
    category_id INTEGER NOT NULL REFERENCES categories(id),
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0),
    currency    TEXT    NOT NULL DEFAULT 'USD',
    stock       INTEGER NOT NULL CHECK (stock >= 0),
    active      INTEGER NOT NULL DEFAULT 1,
    featured    INTEGER NOT NULL DEFAULT 0,
    image       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    popularity  INTEGER NOT NULL DEFAULT 0,
    -- lower-cased name + category + description, built in Rust so matching is Unicode-aware
    search_text TEXT    NOT NULL
);

CREATE INDEX products_category_popularity ON products (category_id, popularity DESC, id);
CREATE INDEX products_category_price ON products (category_id, price_cents, id);
CREATE INDEX products_category_name ON products (category_id, name, id);
CREATE INDEX products_category_created ON products (category_id, created_at DESC, id);
CREATE INDEX products_featured ON products (featured, popularity DESC);
