-- Every change to what a user owns bumps their revision, in the change's own transaction: it
-- numbers the user's private events (global across nodes, never reused), so a stream resumes
-- them exactly.
ALTER TABLE users ADD COLUMN rev BIGINT NOT NULL DEFAULT 0;
