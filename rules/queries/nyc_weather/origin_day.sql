-- Per airport and day: hours observed, mean temperature, strongest wind,
-- precipitation, and mean pressure over the hours that measured it (SQL's
-- AVG skips NULLs, as the reference skips NA).
SELECT
    origin,
    year,
    month,
    day,
    COUNT(*) AS hours,
    AVG(temp) AS avg_temp,
    MAX(wind_speed) AS max_wind_speed,
    SUM(precip) AS precip,
    AVG(pressure) AS avg_pressure
FROM observations
GROUP BY origin, year, month, day
