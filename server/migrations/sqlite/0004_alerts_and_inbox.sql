-- Price alerts and each user's inbox of notifications (issue 26).
--
-- `users.rev` keeps numbering every private event (account changes, notifications, read
-- marks); `users.state_rev` is the number of the last *account* change, the one whose event
-- carries the user's whole state (a stream seeded from the store starts from it).
ALTER TABLE users ADD COLUMN state_rev BIGINT NOT NULL DEFAULT 0;
UPDATE users SET state_rev = rev;

-- Prices in the instrument's integer units (as quotes); times in ms since 1970; a moving
-- condition's percentage in basis points (`pct_bp`), over `bars` candles of `bar_interval`.
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    symbol TEXT NOT NULL,
    condition TEXT NOT NULL,
    price BIGINT,
    low BIGINT,
    high BIGINT,
    pct_bp BIGINT,
    bars BIGINT,
    frequency TEXT NOT NULL,
    bar_interval TEXT,
    expires BIGINT,
    note TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_fired BIGINT,
    fire_count BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX alerts_by_user ON alerts (user_id, id);
CREATE INDEX alerts_by_state ON alerts (state);

-- One entry per firing (kind 'fired') or per alert stopped for firing too often ('stopped').
-- `id` is the user's event number (users.rev) at the firing: increasing per user. The unique
-- key makes a second write of one alert's firing for one frame a no-op, whoever writes it
-- (a restart, a generator taking over).
CREATE TABLE inbox (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    id BIGINT NOT NULL,
    alert_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    symbol TEXT NOT NULL,
    condition TEXT NOT NULL,
    price BIGINT NOT NULL,
    prev BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    note TEXT NOT NULL,
    is_read BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, id),
    UNIQUE (alert_id, kind, seq, ts)
);

CREATE INDEX inbox_by_time ON inbox (ts);
