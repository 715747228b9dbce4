-- Releases per production company, genre and release year.
SELECT
    mc.company_id AS company_id,
    mg.genre_id AS genre_id,
    m.release_year AS year,
    COUNT(*) AS releases
FROM movies AS m
JOIN movie_companies AS mc ON mc.movie_id = m.id
JOIN movie_genres AS mg ON mg.movie_id = m.id
WHERE m.release_year IS NOT NULL
GROUP BY mc.company_id, mg.genre_id, m.release_year
