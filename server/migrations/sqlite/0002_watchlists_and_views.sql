-- What a user arranges: named watchlists (symbols as a JSON array, in the user's order; the lists
-- in `position` order) and the last view (JSON).
CREATE TABLE watchlists (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    position BIGINT NOT NULL,
    symbols TEXT NOT NULL,
    PRIMARY KEY (user_id, name)
);

CREATE TABLE views (
    user_id BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    view TEXT NOT NULL
);
