-- Per keyword and release year: releases, and revenue (sum of values above
-- 0). The same text runs against production and staging.
SELECT
    mk.keyword_id AS keyword_id,
    m.release_year AS year,
    k.name AS keyword,
    COUNT(*) AS releases,
    SUM(CASE WHEN m.revenue > 0 THEN m.revenue ELSE 0 END) AS revenue
FROM movies AS m
JOIN movie_keywords AS mk ON mk.movie_id = m.id
JOIN keywords AS k ON k.id = mk.keyword_id
WHERE m.release_year IS NOT NULL
GROUP BY mk.keyword_id, m.release_year, k.name
