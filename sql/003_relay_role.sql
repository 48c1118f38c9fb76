-- A least-privilege role for the relay: REPLICATION to create and stream its slot, and read
-- access to the outbox for replay. It owns nothing and cannot write application tables.
DO $block$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {{relay_role_literal}}) THEN
        CREATE ROLE {{relay_role}} LOGIN REPLICATION;
    ELSE
        ALTER ROLE {{relay_role}} LOGIN REPLICATION;
    END IF;
END
$block$;

GRANT USAGE ON SCHEMA {{schema}} TO {{relay_role}};
GRANT SELECT ON {{table}} TO {{relay_role}};
