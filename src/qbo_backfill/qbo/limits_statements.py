"""The statements of the shared limiter (`qbo/shared_limits.py`), formatted there with the
schema's `{limits}` and `{slots}` tables. Every one is a single autocommitted statement."""

DDL = """
CREATE UNLOGGED TABLE IF NOT EXISTS {limits} (
    realm_id TEXT PRIMARY KEY,
    next_start TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    next_batch_start TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    paused_until TIMESTAMPTZ NOT NULL DEFAULT 'epoch'
);
CREATE UNLOGGED TABLE IF NOT EXISTS {slots} (
    realm_id TEXT NOT NULL,
    slot INT NOT NULL,
    holder TEXT,
    lease_until TIMESTAMPTZ NOT NULL DEFAULT 'epoch',
    PRIMARY KEY (realm_id, slot)
)
"""
# The realm's rows, if missing (one statement: atomic, and one round trip).
ROWS = (
    "WITH realm AS (INSERT INTO {limits} (realm_id) VALUES (%(realm)s) ON CONFLICT DO NOTHING) "
    "INSERT INTO {slots} (realm_id, slot) SELECT %(realm)s, generate_series(1, %(slots)s) "
    "ON CONFLICT DO NOTHING"
)
# Every statement but the DDL starts by giving back the slots of finished requests.
FREE = """
WITH freed AS (
    UPDATE {slots} SET holder = NULL, lease_until = 'epoch'
    WHERE realm_id = %(realm)s AND slot = ANY(%(freed)s::int[]) AND holder = %(holder)s
    RETURNING slot
)"""
# The start is the latest of: the next free start, the next free batch start (a batch call),
# the end of a pause, now. The row lock orders concurrent reservations.
RESERVE = """
UPDATE {limits} SET
    next_start = greatest(next_start, paused_until, clock_timestamp(),
        CASE WHEN %(batch)s THEN next_batch_start ELSE 'epoch' END) + %(interval)s,
    next_batch_start = CASE WHEN %(batch)s
        THEN greatest(next_start, paused_until, clock_timestamp(), next_batch_start)
            + %(batch_interval)s
        ELSE next_batch_start END
WHERE realm_id = %(realm)s
RETURNING extract(epoch FROM next_start - %(interval)s - clock_timestamp())::float8
"""
# A free slot, unless a pause began since the start was reserved (then: how long it lasts).
CLAIM = """,
pause AS (
    SELECT CASE WHEN paused_until > clock_timestamp()
        THEN extract(epoch FROM paused_until - clock_timestamp())::float8 ELSE 0 END AS seconds
    FROM {limits} WHERE realm_id = %(realm)s
),
free AS (
    SELECT slot FROM {slots}
    WHERE realm_id = %(realm)s AND slot <= %(max_slots)s AND lease_until < clock_timestamp()
        AND slot <> ALL(%(freed)s::int[]) AND (SELECT seconds FROM pause) = 0
    ORDER BY slot LIMIT 1 FOR UPDATE SKIP LOCKED
),
claimed AS (
    UPDATE {slots} s SET holder = %(holder)s, lease_until = clock_timestamp() + %(lease)s
    FROM free WHERE s.realm_id = %(realm)s AND s.slot = free.slot
    RETURNING s.slot
)
SELECT (SELECT slot FROM claimed), coalesce((SELECT seconds FROM pause), 0)
"""
RELEASE = " SELECT count(*) FROM freed"
RENEW = """
UPDATE {slots} SET lease_until = clock_timestamp() + %(lease)s
WHERE realm_id = %(realm)s AND slot = ANY(%(held)s::int[]) AND holder = %(holder)s
"""
PAUSE = """
UPDATE {limits} SET paused_until = greatest(paused_until, clock_timestamp() + %(pause)s)
WHERE realm_id = %(realm)s
"""
