-- dqgate store schema, version 1: the normalized movie model. Staging
-- tables (stg_*) are TEMP tables of each connection: see staging.sql.

CREATE TABLE IF NOT EXISTS movies (
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
CREATE TABLE IF NOT EXISTS genres (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS companies (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS movie_genres (
    movie_id INTEGER NOT NULL,
    genre_id INTEGER NOT NULL,
    PRIMARY KEY (movie_id, genre_id)
);
CREATE TABLE IF NOT EXISTS movie_companies (
    movie_id   INTEGER NOT NULL,
    company_id INTEGER NOT NULL,
    PRIMARY KEY (movie_id, company_id)
);
CREATE INDEX IF NOT EXISTS movie_genres_genre ON movie_genres (genre_id);
CREATE INDEX IF NOT EXISTS movie_companies_company ON movie_companies (company_id);
