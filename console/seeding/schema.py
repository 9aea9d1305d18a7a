# SQL is assembled from this module's constants only (no input reaches it).
# ruff: noqa: S608
"""The seed schema: its name, the sizes of a full run, the tables a seed fills and the SQL
helpers (``u``, ``pick``, ``hex``, ``minor``, ``delivery_state``) every phase computes with."""

SCHEMA = "seed_scale"
FULL_BUSINESSES = 130_000
# Proposal counts of the big businesses at full size (the biggest exactly 50,000).
BIG_SIZES = (50_000, 45_000, 40_000, 35_000, 30_000, 26_000, 23_000, 20_000)
BENCH_ADMIN_EMAIL = "bench-admin@example.com"
BENCH_PASSWORD = "bench-seed-password"  # noqa: S105 - printed for the benchmark, seed data only

# Tables the seed fills, children first (TRUNCATE order does not matter with CASCADE).
SEEDED_TABLES = (
    "integrations_integrationcall",
    "integrations_wixinvoice",
    "integrations_webhookreceipt",
    "integrations_wixcontactsync",
    "proposals_deliveryattempt",
    "proposals_delivery",
    "proposals_activity",
    "proposals_acceptance",
    "proposals_proposalview",
    "proposals_lineitem",
    "proposals_section",
    "proposals_proposalversion",
    "proposals_proposal",
    "proposals_proposalsequence",
    "proposals_proposalsettings",
    "proposals_client",
    "accounts_membership",
    "accounts_user",
    "accounts_business",
)

# --- helpers created in the seed schema ---------------------------------------------------

SETUP_SQL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.progress (
    phase text PRIMARY KEY, rows bigint NOT NULL, seconds numeric NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS {SCHEMA}.meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS {SCHEMA}.saved_index (
    name text PRIMARY KEY, tablename text NOT NULL, definition text NOT NULL);

-- Uniform [0, 1) from an id and a salt: deterministic, so every phase can recompute it.
CREATE OR REPLACE FUNCTION {SCHEMA}.u(id bigint, salt int) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ((hashint8extended(id, salt) >> 8) & 1099511627775)::float8 / 1099511627776.0 $$;

CREATE OR REPLACE FUNCTION {SCHEMA}.pick(arr text[], id bigint, salt int) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT arr[1 + floor({SCHEMA}.u(id, salt) * array_length(arr, 1))::int] $$;

CREATE OR REPLACE FUNCTION {SCHEMA}.hex(id bigint, salt text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT md5(salt || ':' || id::text) $$;

-- Minor units of a currency, as common.money has them.
CREATE OR REPLACE FUNCTION {SCHEMA}.minor(cur text) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE WHEN cur IN ('CLP', 'ISK', 'JPY', 'KRW', 'VND') THEN 0
               WHEN cur IN ('BHD', 'JOD', 'KWD', 'OMR', 'TND') THEN 3 ELSE 2 END $$;

-- The state of a delivery from a uniform draw ``r``: recent ones still in flight, old ones done.
CREATE OR REPLACE FUNCTION {SCHEMA}.delivery_state(r float8, recent boolean) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT CASE
    WHEN recent THEN CASE WHEN r < 0.80 THEN 'sent' WHEN r < 0.88 THEN 'failed_retrying'
                          WHEN r < 0.93 THEN 'pending' WHEN r < 0.95 THEN 'sending'
                          ELSE 'failed_permanent' END
    WHEN r < 0.977 THEN 'sent' WHEN r < 0.997 THEN 'failed_permanent' ELSE 'cancelled' END $$;
"""
