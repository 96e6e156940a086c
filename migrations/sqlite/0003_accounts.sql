CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    role          TEXT    NOT NULL DEFAULT 'customer',
    created_at    INTEGER NOT NULL
);

-- Guest carts already merged into an account: a second merge of the same guest cart (double
-- submit, two tabs, a retry) finds its row here and changes nothing. Written in the merge's
-- own transaction.
CREATE TABLE cart_merges (
    guest_owner TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    merged_at   INTEGER NOT NULL
);
