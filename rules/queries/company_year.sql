-- Per production company and release year: releases, budget and revenue (sums of values
-- above 0), profit (revenue - budget over movies with both above 0) and the
-- mean popularity. The same text runs against production and staging.
SELECT
    mc.company_id AS company_id,
    m.release_year AS year,
    c.name AS company,
    COUNT(*) AS releases,
    SUM(CASE WHEN m.budget > 0 THEN m.budget ELSE 0 END) AS budget,
    SUM(CASE WHEN m.revenue > 0 THEN m.revenue ELSE 0 END) AS revenue,
    SUM(CASE WHEN m.budget > 0 AND m.revenue > 0 THEN m.revenue - m.budget ELSE 0 END) AS profit,
    AVG(m.popularity) AS avg_popularity
FROM movies AS m
JOIN movie_companies AS mc ON mc.movie_id = m.id
JOIN companies AS c ON c.id = mc.company_id
WHERE m.release_year IS NOT NULL
GROUP BY mc.company_id, m.release_year, c.name
