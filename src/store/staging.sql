-- SQLite staging: TEMP tables, private to the connection of one run, so
-- two runs on the same store can never see or overwrite each other's batch.
-- Same shape as the production tables, under a stg_ prefix.

CREATE TEMP TABLE IF NOT EXISTS stg_movies (
    id                INTEGER PRIMARY KEY,
    title             TEXT NOT NULL,
    release_date      TEXT,
    release_year      INTEGER,
    budget            INTEGER,
    revenue           INTEGER,
    popularity        REAL,
    runtime           REAL,
    vote_average      REAL,
    vote_count        INTEGER,
    status            TEXT,
    original_language TEXT,
    imdb_id           TEXT,
    batch_id          INTEGER
);
CREATE TEMP TABLE IF NOT EXISTS stg_genres (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TEMP TABLE IF NOT EXISTS stg_companies (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TEMP TABLE IF NOT EXISTS stg_movie_genres (
    movie_id INTEGER NOT NULL,
    genre_id INTEGER NOT NULL,
    PRIMARY KEY (movie_id, genre_id)
) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS stg_movie_companies (
    movie_id   INTEGER NOT NULL,
    company_id INTEGER NOT NULL,
    PRIMARY KEY (movie_id, company_id)
) WITHOUT ROWID;
CREATE TEMP TABLE IF NOT EXISTS stg_sources (
    movie_id INTEGER PRIMARY KEY,
    line     INTEGER NOT NULL,
    record   BLOB NOT NULL
);
CREATE TEMP TABLE IF NOT EXISTS stg_subset (movie_id INTEGER PRIMARY KEY);
