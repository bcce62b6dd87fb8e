-- The hash-chain input of every event, one row per event, exactly as
-- rollcall hashes it (see schema/CANONICAL.md). The sqlite3 shell prints each
-- value followed by a newline, which is the final byte of the form.
--
--   sqlite3 rollcall.db -cmd ".param set :seq 5" < schema/canonical-form.sql | sha256sum
--
-- prints the hash stored for event 5.
SELECT prev_hash || char(10)
    || length(CAST(seq AS BLOB))                        || ':' || seq                        || ','
    || length(CAST(event_id AS BLOB))                   || ':' || event_id                   || ','
    || length(CAST(stream AS BLOB))                     || ':' || stream                     || ','
    || length(CAST(stream_version AS BLOB))             || ':' || stream_version             || ','
    || length(CAST(event_type AS BLOB))                 || ':' || event_type                 || ','
    || length(CAST(event_version AS BLOB))              || ':' || event_version              || ','
    || length(CAST(occurred_at AS BLOB))                || ':' || occurred_at                || ','
    || length(CAST(coalesce(actor, '') AS BLOB))        || ':' || coalesce(actor, '')        || ','
    || length(CAST(coalesce(request_id, '') AS BLOB))   || ':' || coalesce(request_id, '')   || ','
    || length(CAST(coalesce(reason, '') AS BLOB))       || ':' || coalesce(reason, '')       || ','
    || length(CAST(data AS BLOB))                       || ':' || data                       || ','
FROM events
WHERE seq = :seq;
