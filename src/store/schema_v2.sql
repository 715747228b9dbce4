-- dqgate store schema, version 2: promotion.
-- dq_batches is the ledger ("movies in vs movies out"); movie_sources keeps
-- the original record of every promoted movie (lineage, and the input of
-- the rollup reconciliation when a movie is replaced); dq_rollups holds the
-- running totals of the declared aggregates.

CREATE TABLE IF NOT EXISTS dq_batches (
    batch_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    file           TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    rules_sha256   TEXT NOT NULL,
    header         TEXT NOT NULL,
    rows_in        INTEGER NOT NULL,
    accepted       INTEGER NOT NULL,
    quarantined    INTEGER NOT NULL,
    warned         INTEGER NOT NULL,
    new_movies     INTEGER NOT NULL DEFAULT 0,
    updated_movies INTEGER NOT NULL DEFAULT 0,
    skipped_movies INTEGER NOT NULL DEFAULT 0,
    verdict        TEXT NOT NULL,
    diff_outcome   TEXT NOT NULL,
    query_timings  TEXT NOT NULL,
    status         TEXT NOT NULL,
    reasons        TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dq_batches_sha256 ON dq_batches (sha256, status);

CREATE TABLE IF NOT EXISTS movie_sources (
    movie_id INTEGER PRIMARY KEY,
    batch_id INTEGER NOT NULL,
    line     INTEGER NOT NULL,
    record   BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS dq_rollups (
    aggregate TEXT NOT NULL,
    key       TEXT NOT NULL,
    state     TEXT NOT NULL,
    PRIMARY KEY (aggregate, key)
);
CREATE TABLE IF NOT EXISTS dq_rollup_labels (
    label TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (label, key)
);
