-- Per airport and month: hours observed, hours without a pressure reading,
-- and the range of temperatures.
SELECT
    origin,
    year,
    month,
    COUNT(*) AS hours,
    SUM(CASE WHEN pressure IS NULL THEN 1 ELSE 0 END) AS hours_without_pressure,
    MIN(temp) AS min_temp,
    MAX(temp) AS max_temp
FROM observations
GROUP BY origin, year, month
