-- The publication streams only inserts of the outbox, under the parent's name for every
-- partition (publish_via_partition_root), so new partitions need no handling by the relay.
DO $block$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = {{publication_literal}}) THEN
        CREATE PUBLICATION {{publication}} FOR TABLE {{table}}
            WITH (publish = 'insert', publish_via_partition_root = true);
    ELSE
        ALTER PUBLICATION {{publication}} SET (publish = 'insert', publish_via_partition_root = true);
    END IF;
END
$block$;
