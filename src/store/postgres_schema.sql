-- dqgate store schema for PostgreSQL, version 4 (the same model as the
-- SQLite schema, in PostgreSQL's types; version 3 changed only how SQLite
-- stores the link tables). Runs with search_path set to the store's
-- schema, so every name below lives there.

CREATE TABLE IF NOT EXISTS movies (
    id                BIGINT PRIMARY KEY,
    title             TEXT NOT NULL,
    release_date      TEXT,
    release_year      INTEGER,
    budget            BIGINT,
    revenue           BIGINT,
    popularity        DOUBLE PRECISION,
    runtime           DOUBLE PRECISION,
    vote_average      DOUBLE PRECISION,
    vote_count        BIGINT,
    status            TEXT,
    original_language TEXT,
    imdb_id           TEXT,
    batch_id          BIGINT
);
CREATE TABLE IF NOT EXISTS genres (id BIGINT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS companies (id BIGINT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS movie_genres (
    movie_id BIGINT NOT NULL,
    genre_id BIGINT NOT NULL,
    PRIMARY KEY (movie_id, genre_id)
);
CREATE TABLE IF NOT EXISTS movie_companies (
    movie_id   BIGINT NOT NULL,
    company_id BIGINT NOT NULL,
    PRIMARY KEY (movie_id, company_id)
);
CREATE INDEX IF NOT EXISTS movie_genres_genre ON movie_genres (genre_id);
CREATE INDEX IF NOT EXISTS movie_companies_company ON movie_companies (company_id);

CREATE TABLE IF NOT EXISTS stg_movies (LIKE movies INCLUDING ALL);
CREATE TABLE IF NOT EXISTS stg_genres (LIKE genres INCLUDING ALL);
CREATE TABLE IF NOT EXISTS stg_companies (LIKE companies INCLUDING ALL);
CREATE TABLE IF NOT EXISTS stg_movie_genres (LIKE movie_genres INCLUDING ALL);
CREATE TABLE IF NOT EXISTS stg_movie_companies (LIKE movie_companies INCLUDING ALL);

CREATE TABLE IF NOT EXISTS dq_batches (
    batch_id       BIGSERIAL PRIMARY KEY,
    file           TEXT NOT NULL,
    sha256         TEXT NOT NULL,
    rules_sha256   TEXT NOT NULL,
    header         TEXT NOT NULL,
    rows_in        BIGINT NOT NULL,
    accepted       BIGINT NOT NULL,
    quarantined    BIGINT NOT NULL,
    warned         BIGINT NOT NULL,
    new_movies     BIGINT NOT NULL DEFAULT 0,
    updated_movies BIGINT NOT NULL DEFAULT 0,
    skipped_movies BIGINT NOT NULL DEFAULT 0,
    verdict        TEXT NOT NULL,
    diff_outcome   TEXT NOT NULL,
    query_timings  TEXT NOT NULL,
    status         TEXT NOT NULL,
    reasons        TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dq_batches_sha256 ON dq_batches (sha256, status);
-- Version 4: files are identified by BLAKE3; batches recorded before keep
-- their SHA-256, which a new batch no longer has.
ALTER TABLE dq_batches ADD COLUMN IF NOT EXISTS blake3 TEXT;
ALTER TABLE dq_batches ADD COLUMN IF NOT EXISTS rules_blake3 TEXT;
ALTER TABLE dq_batches ALTER COLUMN sha256 DROP NOT NULL;
ALTER TABLE dq_batches ALTER COLUMN rules_sha256 DROP NOT NULL;
CREATE INDEX IF NOT EXISTS dq_batches_blake3 ON dq_batches (blake3, status);

CREATE TABLE IF NOT EXISTS movie_sources (
    movie_id BIGINT PRIMARY KEY,
    batch_id BIGINT NOT NULL,
    line     BIGINT NOT NULL,
    record   BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS stg_sources (
    movie_id BIGINT PRIMARY KEY,
    line     BIGINT NOT NULL,
    record   BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS stg_subset (movie_id BIGINT PRIMARY KEY);

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
