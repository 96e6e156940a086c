-- Feature flags, changed at run time from the admin page; every instance reloads them every
-- couple of seconds. Variants are "name:weight" pairs, the first one being the control.
CREATE TABLE flags (
    name       TEXT    PRIMARY KEY,
    enabled    BIGINT NOT NULL,
    variants   TEXT    NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The experiment shipped with the shop, off until an operator starts it.
INSERT INTO flags (name, enabled, variants, updated_at) VALUES ('cart_layout', 0, 'page:50,drawer:50', 0);

-- First exposure of a subject (u:<user id> or a:<anonymous id>) to a flag: counted once, and
-- the record that keeps the assignment sticky.
CREATE TABLE exposures (
    flag       TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    variant    TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (flag, subject)
);

-- Funnel steps reached by a subject while in an experiment, at most once per step.
CREATE TABLE conversions (
    flag       TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    step       TEXT    NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (flag, subject, step)
);
