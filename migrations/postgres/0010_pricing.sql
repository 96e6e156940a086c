-- Pricing beyond the catalogue price: promotions (codes and automatic ones), shipping zones and
-- methods, tax rates per zone and the store's tax settings; and what an order was charged for
-- each of them. Every amount is in minor units of the store's currency.

-- A promotion with a code is entered by the shopper; one without (code NULL) applies by itself.
-- kind: 'percent' (value = percent 1..100), 'fixed' (value = cents), 'free_shipping',
-- 'buy_get' (buy_quantity N, value = percent off the next one; 100 = free).
-- target: 'order', 'category', 'product' or 'variant' (target_id names it).
-- times_used counts redemptions; the order transaction raises it only while it is below
-- usage_limit, so concurrent checkouts can never redeem a code more often than allowed.
CREATE TABLE promotions (
    id                 BIGSERIAL PRIMARY KEY,
    code               TEXT    UNIQUE,
    name               TEXT    NOT NULL,
    kind               TEXT    NOT NULL,
    value              BIGINT  NOT NULL DEFAULT 0 CHECK (value >= 0),
    buy_quantity       BIGINT  NOT NULL DEFAULT 0 CHECK (buy_quantity >= 0),
    target             TEXT    NOT NULL DEFAULT 'order',
    target_id          BIGINT  NOT NULL DEFAULT 0,
    min_subtotal_cents BIGINT  NOT NULL DEFAULT 0 CHECK (min_subtotal_cents >= 0),
    starts_at          BIGINT,
    ends_at            BIGINT,
    usage_limit        BIGINT,
    per_customer_limit BIGINT,
    times_used         BIGINT  NOT NULL DEFAULT 0,
    combinable         BIGINT  NOT NULL DEFAULT 1,
    active             BIGINT  NOT NULL DEFAULT 1,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL
);

-- One row per promotion an order used, with what it saved; customer is 'u:<user id>' or
-- 'e:<email>' (per-customer limits count these).
CREATE TABLE promotion_redemptions (
    promotion_id BIGINT  NOT NULL REFERENCES promotions(id),
    order_id     TEXT    NOT NULL REFERENCES orders(id),
    customer     TEXT    NOT NULL,
    amount_cents BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    PRIMARY KEY (promotion_id, order_id)
);
CREATE INDEX promotion_redemptions_customer ON promotion_redemptions (promotion_id, customer);

-- Where the store ships: a zone is a list of countries (ISO 3166-1 alpha-2, comma separated)
-- with the tax charged there (basis points: 2000 = 20%).
CREATE TABLE shipping_zones (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT    NOT NULL,
    countries   TEXT    NOT NULL,
    tax_label   TEXT    NOT NULL DEFAULT 'Tax',
    tax_rate_bp BIGINT  NOT NULL DEFAULT 0 CHECK (tax_rate_bp BETWEEN 0 AND 10000),
    position    BIGINT  NOT NULL DEFAULT 0
);

-- How a zone's orders ship. rate_kind: 'flat' (base_cents), 'weight' (base_cents + per_kg_cents
-- per started kilogram), 'bands' (bands = 'from:cents,from:cents' on the discounted subtotal).
-- free_over_cents: free from that discounted subtotal on.
CREATE TABLE shipping_methods (
    id              BIGSERIAL PRIMARY KEY,
    zone_id         BIGINT  NOT NULL REFERENCES shipping_zones(id),
    name            TEXT    NOT NULL,
    rate_kind       TEXT    NOT NULL DEFAULT 'flat',
    base_cents      BIGINT  NOT NULL DEFAULT 0 CHECK (base_cents >= 0),
    per_kg_cents    BIGINT  NOT NULL DEFAULT 0 CHECK (per_kg_cents >= 0),
    bands           TEXT    NOT NULL DEFAULT '',
    free_over_cents BIGINT,
    active          BIGINT  NOT NULL DEFAULT 1,
    position        BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX shipping_methods_zone ON shipping_methods (zone_id, position);

-- Store-wide settings: tax_inclusive ('1': catalogue prices include tax), tax_rounding
-- ('line' or 'total').
CREATE TABLE store_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO store_settings (key, value) VALUES ('tax_inclusive', '1'), ('tax_rounding', 'line');

-- Every store starts shipping where the shop always has, at the price it always charged
-- (standard: $4.99, free from $50), with an express option by weight, and the tax of each region.
INSERT INTO shipping_zones (id, name, countries, tax_label, tax_rate_bp, position) VALUES
    (1, 'North America', 'US,CA', 'Sales tax', 0, 1),
    (2, 'United Kingdom', 'GB', 'VAT', 2000, 2),
    (3, 'European Union', 'IE,DE,FR,NL,BE,ES,IT,SE,DK', 'VAT', 2100, 3),
    (4, 'Australia and New Zealand', 'AU,NZ', 'GST', 1000, 4);
INSERT INTO shipping_methods (zone_id, name, rate_kind, base_cents, per_kg_cents, bands, free_over_cents, position) VALUES
    (1, 'Standard (3–5 days)', 'flat', 499, 0, '', 5000, 1),
    (1, 'Express (1–2 days)', 'weight', 1299, 150, '', NULL, 2),
    (2, 'Standard (3–5 days)', 'flat', 499, 0, '', 5000, 1),
    (2, 'Express (next day)', 'weight', 1299, 150, '', NULL, 2),
    (3, 'Standard (4–7 days)', 'bands', 0, 0, '0:899,5000:499,10000:0', NULL, 1),
    (3, 'Express (2–3 days)', 'weight', 1899, 200, '', NULL, 2),
    (4, 'Standard (7–12 days)', 'flat', 1499, 0, '', 15000, 1);

ALTER TABLE variants ADD COLUMN weight_grams BIGINT  NOT NULL DEFAULT 0 CHECK (weight_grams >= 0);

-- What an order was charged beyond its lines, as charged.
ALTER TABLE orders ADD COLUMN discount_cents BIGINT  NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN shipping_discount_cents BIGINT  NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN tax_cents BIGINT  NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN tax_inclusive BIGINT  NOT NULL DEFAULT 1;
ALTER TABLE orders ADD COLUMN shipping_method TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN promo_code TEXT NOT NULL DEFAULT '';
ALTER TABLE order_lines ADD COLUMN discount_cents BIGINT  NOT NULL DEFAULT 0;
ALTER TABLE order_lines ADD COLUMN tax_cents BIGINT  NOT NULL DEFAULT 0;
-- Each discount and tax line of an order, in the order shown. kind: 'discount',
-- 'shipping_discount' or 'tax'.
CREATE TABLE order_adjustments (
    order_id     TEXT    NOT NULL REFERENCES orders(id),
    position     BIGINT  NOT NULL,
    kind         TEXT    NOT NULL,
    label        TEXT    NOT NULL,
    amount_cents BIGINT  NOT NULL,
    promotion_id BIGINT,
    PRIMARY KEY (order_id, position)
);
-- The seeded zones name their ids: later zones continue after them.
SELECT setval('shipping_zones_id_seq', (SELECT MAX(id) FROM shipping_zones));
