-- Per release year: the genre with the highest profit and the genre with
-- the highest mean popularity; ties go to the lowest genre id.
WITH genre_year AS (
    SELECT
        mg.genre_id AS genre_id,
        m.release_year AS year,
        g.name AS genre,
        SUM(CASE WHEN m.budget > 0 AND m.revenue > 0 THEN m.revenue - m.budget ELSE 0 END) AS profit,
        AVG(m.popularity) AS avg_popularity
    FROM movies AS m
    JOIN movie_genres AS mg ON mg.movie_id = m.id
    JOIN genres AS g ON g.id = mg.genre_id
    WHERE m.release_year IS NOT NULL
    GROUP BY mg.genre_id, m.release_year, g.name
),
ranked AS (
    SELECT
        year,
        genre_id,
        genre,
        ROW_NUMBER() OVER (PARTITION BY year ORDER BY profit DESC, genre_id ASC) AS profit_rank,
        ROW_NUMBER() OVER (PARTITION BY year ORDER BY avg_popularity DESC, genre_id ASC) AS popularity_rank
    FROM genre_year
)
SELECT
    year,
    MAX(CASE WHEN profit_rank = 1 THEN genre_id END) AS most_profitable_genre_id,
    MAX(CASE WHEN profit_rank = 1 THEN genre END) AS most_profitable_genre,
    MAX(CASE WHEN popularity_rank = 1 THEN genre_id END) AS most_popular_genre_id,
    MAX(CASE WHEN popularity_rank = 1 THEN genre END) AS most_popular_genre
FROM ranked
GROUP BY year
