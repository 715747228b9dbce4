-- dqgate store schema, version 3: the link tables become WITHOUT ROWID
-- tables clustered on (movie_id, key). A link is then one b-tree entry
-- instead of a row plus an index entry, and the index on the key holds
-- (key, movie_id): the per-genre and per-company queries read it alone.

CREATE TABLE movie_genres_v3 (
    movie_id INTEGER NOT NULL,
    genre_id INTEGER NOT NULL,
    PRIMARY KEY (movie_id, genre_id)
) WITHOUT ROWID;
INSERT INTO movie_genres_v3 (movie_id, genre_id) SELECT movie_id, genre_id FROM movie_genres;
DROP TABLE movie_genres;
ALTER TABLE movie_genres_v3 RENAME TO movie_genres;
CREATE INDEX movie_genres_genre ON movie_genres (genre_id);

CREATE TABLE movie_companies_v3 (
    movie_id   INTEGER NOT NULL,
    company_id INTEGER NOT NULL,
    PRIMARY KEY (movie_id, company_id)
) WITHOUT ROWID;
INSERT INTO movie_companies_v3 (movie_id, company_id)
    SELECT movie_id, company_id FROM movie_companies;
DROP TABLE movie_companies;
ALTER TABLE movie_companies_v3 RENAME TO movie_companies;
CREATE INDEX movie_companies_company ON movie_companies (company_id);
