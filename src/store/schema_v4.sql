-- dqgate store schema, version 4: the ledger identifies files by BLAKE3.
-- dqgate hashes every input with BLAKE3 (several times as fast as SHA-256
-- on one core, and the one serial pass of a check). Batches recorded
-- before keep their SHA-256 in the legacy columns; a new batch has only
-- its BLAKE3, so those columns are no longer required.

CREATE TABLE dq_batches_v4 (
    batch_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    file           TEXT NOT NULL,
    blake3         TEXT,
    rules_blake3   TEXT,
    sha256         TEXT,
    rules_sha256   TEXT,
    header         TEXT NOT NULL,
    rows_in        INTEGER NOT NULL,
    accepted       INTEGER NOT NULL,
    quarantined    INTEGER NOT NULL,
    warned         INTEGER NOT NULL,
    new_movies     INTEGER NOT NULL DEFAULT 0,
    updated_movies INTEGER NOT NULL DEFAULT 0,
    skipped_movies INTEGER NOT NULL DEFAULT 0,
    verdict        TEXT NOT NULL,
    diff_outcome   TEXT NOT NULL,
    query_timings  TEXT NOT NULL,
    status         TEXT NOT NULL,
    reasons        TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT NOT NULL,
    CHECK (blake3 IS NOT NULL OR sha256 IS NOT NULL)
);
INSERT INTO dq_batches_v4 (batch_id, file, sha256, rules_sha256, header, rows_in, accepted,
    quarantined, warned, new_movies, updated_movies, skipped_movies, verdict, diff_outcome,
    query_timings, status, reasons, started_at, finished_at)
SELECT batch_id, file, sha256, rules_sha256, header, rows_in, accepted,
    quarantined, warned, new_movies, updated_movies, skipped_movies, verdict, diff_outcome,
    query_timings, status, reasons, started_at, finished_at
FROM dq_batches;
DROP TABLE dq_batches;
ALTER TABLE dq_batches_v4 RENAME TO dq_batches;
CREATE INDEX dq_batches_blake3 ON dq_batches (blake3, status);
