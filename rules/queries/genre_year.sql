-- Per genre and release year: releases, budget and revenue (sums of values
-- above 0), profit (revenue - budget over movies with both above 0) and the
-- mean popularity. The same text runs against production and staging.
SELECT
    mg.genre_id AS genre_id,
    m.release_year AS year,
    g.name AS genre,
    COUNT(*) AS releases,
    SUM(CASE WHEN m.budget > 0 THEN m.budget ELSE 0 END) AS budget,
    SUM(CASE WHEN m.revenue > 0 THEN m.revenue ELSE 0 END) AS revenue,
    SUM(CASE WHEN m.budget > 0 AND m.revenue > 0 THEN m.revenue - m.budget ELSE 0 END) AS profit,
    AVG(m.popularity) AS avg_popularity
FROM movies AS m
JOIN movie_genres AS mg ON mg.movie_id = m.id
JOIN genres AS g ON g.id = mg.genre_id
WHERE m.release_year IS NOT NULL
GROUP BY mg.genre_id, m.release_year, g.name
