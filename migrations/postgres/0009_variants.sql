-- Variants: what a shopper buys is a variant of a product (a size, a colour), with its own SKU,
-- price, stock and picture. A product without options has one variant.
--
-- Every product that existed before this migration becomes a one-variant product whose variant
-- has the product's id. Cart lines were keyed by product id, so every cart, browser copy and
-- order made before stays valid as it is: its ids are now the ids of those default variants.
ALTER TABLE products ADD COLUMN option1_name TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN option2_name TEXT NOT NULL DEFAULT '';
ALTER TABLE products ADD COLUMN option3_name TEXT NOT NULL DEFAULT '';
-- products.price_cents is the lowest variant price and products.stock the sum of the variants'
-- stock (kept by every write to variants, in its transaction): listings sort and filter on them.
-- max_price_cents tells a listing to say "from".
ALTER TABLE products ADD COLUMN max_price_cents BIGINT  NOT NULL DEFAULT 0;
UPDATE products SET max_price_cents = price_cents;
-- Sanitised HTML from a catalogue import, shown instead of the plain `description` when set;
-- `description` stays plain text (search, meta tags).
ALTER TABLE products ADD COLUMN description_html TEXT NOT NULL DEFAULT '';

CREATE TABLE variants (
    id               BIGINT  PRIMARY KEY,
    product_id       BIGINT  NOT NULL REFERENCES products(id),
    sku              TEXT    NOT NULL UNIQUE,
    option1          TEXT    NOT NULL DEFAULT '',
    option2          TEXT    NOT NULL DEFAULT '',
    option3          TEXT    NOT NULL DEFAULT '',
    price_cents      BIGINT  NOT NULL CHECK (price_cents >= 0),
    compare_at_cents BIGINT  CHECK (compare_at_cents IS NULL OR compare_at_cents >= 0),
    stock            BIGINT  NOT NULL CHECK (stock >= 0),
    -- empty: the product's picture
    image            TEXT    NOT NULL DEFAULT '',
    position         BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX variants_product ON variants (product_id, position, id);
-- The SKU of a migrated product's variant is its slug (unique already).
INSERT INTO variants (id, product_id, sku, price_cents, stock, position)
    SELECT id, id, slug, price_cents, stock, 0 FROM products;

-- Cart lines hold variants (the ids did not change, see above).
ALTER TABLE cart_items RENAME COLUMN product_id TO variant_id;

-- Order lines keep the variant bought, its SKU and its options as they were when ordered; two
-- variants of one product are two lines.
CREATE TABLE order_lines_v2 (
    order_id         TEXT    NOT NULL REFERENCES orders(id),
    product_id       BIGINT  NOT NULL,
    variant_id       BIGINT  NOT NULL,
    sku              TEXT    NOT NULL DEFAULT '',
    options          TEXT    NOT NULL DEFAULT '',
    name             TEXT    NOT NULL,
    unit_price_cents BIGINT  NOT NULL,
    quantity         BIGINT  NOT NULL CHECK (quantity > 0),
    line_total_cents BIGINT  NOT NULL,
    PRIMARY KEY (order_id, variant_id)
);
INSERT INTO order_lines_v2 (order_id, product_id, variant_id, sku, options, name, unit_price_cents, quantity,
                            line_total_cents)
    SELECT l.order_id, l.product_id, l.product_id, COALESCE(p.slug, ''), '', l.name, l.unit_price_cents,
           l.quantity, l.line_total_cents
    FROM order_lines l LEFT JOIN products p ON p.id = l.product_id;
DROP TABLE order_lines;
ALTER TABLE order_lines_v2 RENAME TO order_lines;
