-- The outbox table, range-partitioned by day on created_at so that old days are dropped as whole
-- partitions instead of deleted row by row. Placeholders in double braces are filled in by
-- "outbox-relay migrate" with quoted identifiers; every statement is safe to run again.
--
-- Uniqueness: a partitioned table's primary key must include the partition key, so the key is
-- (id, created_at). id is a random UUID, so duplicates do not happen in practice, but PostgreSQL
-- does not enforce id alone, nor (aggregate_id, aggregate_version) across days. Enforce version
-- order on the aggregate's own row (optimistic locking) in the same transaction.

CREATE TABLE IF NOT EXISTS {{table}} (
    id                uuid        NOT NULL DEFAULT gen_random_uuid(),
    event_type        text        NOT NULL,
    aggregate_type    text        NOT NULL,
    aggregate_id      text        NOT NULL,
    aggregate_version bigint      NOT NULL,
    event_data        jsonb       NOT NULL,
    metadata          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    correlation_id    text        NOT NULL,
    causation_id      text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text        NOT NULL DEFAULT current_user,
    PRIMARY KEY (id, created_at),
    CONSTRAINT {{version_check}} CHECK (aggregate_version > 0),
    CONSTRAINT {{metadata_check}} CHECK (jsonb_typeof(metadata) = 'object'),
    CONSTRAINT {{blank_check}} CHECK (event_type <> '' AND aggregate_type <> '' AND aggregate_id <> '')
) PARTITION BY RANGE (created_at);

-- Replay by aggregate reads this; each partition gets its own copy of the index.
CREATE INDEX IF NOT EXISTS {{aggregate_index}} ON {{table}} (aggregate_id, aggregate_version);

-- Creates the daily partitions from today to today + days_ahead, with UTC day bounds. Partition
-- names carry the day: <table>_pYYYYMMDD.
CREATE OR REPLACE FUNCTION {{ensure_partitions}}(days_ahead integer)
RETURNS integer
LANGUAGE plpgsql
AS $function$
DECLARE
    day     date := (now() AT TIME ZONE 'UTC')::date;
    last    date := (now() AT TIME ZONE 'UTC')::date + days_ahead;
    created integer := 0;
    name    text;
BEGIN
    WHILE day <= last LOOP
        name := format('%s_p%s', {{table_name_literal}}, to_char(day, 'YYYYMMDD'));
        IF to_regclass(format('%I.%I', {{schema_literal}}, name)) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                {{schema_literal}}, name, {{schema_literal}}, {{table_name_literal}},
                day::text || ' 00:00:00+00', (day + 1)::text || ' 00:00:00+00');
            created := created + 1;
        END IF;
        day := day + 1;
    END LOOP;
    RETURN created;
END
$function$;
