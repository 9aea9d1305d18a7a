# SQL is assembled from this module's constants only (no input reaches it); some SQL lines
# (user agents, nested CASEs) read better unbroken.
# ruff: noqa: S608, E501
"""Production-size seed data, generated inside PostgreSQL (``manage.py seed_scale``).

Every table is filled by one or a few ``INSERT … SELECT`` statements over ``generate_series``.
Nothing random is drawn in Python: each value is a function of the row's id (``seed_scale.u``
hashes an id and a salt into [0, 1)), so a phase computes the same rows whenever it runs and
later phases can derive what they need from the rows earlier phases wrote.

Ids are arithmetic, with gaps, so foreign keys need no lookups:

- proposal ``p`` of business ``b`` is ``b.first_pid + k`` (k = its number, 1…n);
- its versions are ``2p - 1`` (v1) and ``2p`` (v2); ``current_version`` is the last one;
- its sections ``2p - 1``, ``2p``; line items ``3p - 2 … 3p``;
- activity ``20p + slot``; delivery ``8p + slot``; attempt ``4·delivery + n``; view ``4p + n``.

A plan table (``seed_scale.biz``) holds, per business, its tier, sizes and id offsets. Its
progress table records each finished phase with its row count and seconds; the meta table holds
the run's fixed ``now`` and token salt, and the ids a benchmark needs. All of it lives in the
``seed_scale`` schema, which ``--reset`` drops.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

SCHEMA = "seed_scale"
FULL_BUSINESSES = 130_000
# Proposal counts of the big businesses at full size (the biggest exactly 50,000).
BIG_SIZES = (50_000, 45_000, 40_000, 35_000, 30_000, 26_000, 23_000, 20_000)
BENCH_ADMIN_EMAIL = "bench-admin@example.com"
BENCH_PASSWORD = "bench-seed-password"  # noqa: S105 - printed for the benchmark, seed data only

# Tables the seed fills, children first (TRUNCATE order does not matter with CASCADE).
SEEDED_TABLES = (
    "integrations_integrationcall",
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


# --- the working copy's lines ---------------------------------------------------------------

ITEM_NAMES = (
    ["Discovery workshop", "Strategy session", "Site audit", "Kick-off meeting",
     "Requirements review"],
    ["Design and build", "Monthly retainer", "Content writing", "Photo shoot", "Implementation",
     "Consulting hours"],
    ["Priority support", "Extra revisions", "Training session", "Hosting (1 year)",
     "Express delivery"],
)  # fmt: skip
ITEM_DESCRIPTION = "As agreed in our call: scope, milestones and delivery."


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def lines_lateral(pid: str, m: str) -> str:
    """``ln``: the three lines of proposal ``pid`` (1, 2 in "Services"; 3, maybe optional, in
    "Options") and their totals as common.money computes them, with ``m`` minor units.

    Values are functions of the proposal id, so the line items, the proposal's total and its
    snapshots agree without reading each other. Each level is fenced (OFFSET 0) so an
    expression is computed once per row, not copied into every use.
    """
    raw = ",\n".join(
        f"(1 + floor({SCHEMA}.u({pid}, {10 + j}) * 4))::numeric(12, 3) AS q{j}, "
        f"((4 + floor({SCHEMA}.u({pid}, {20 + j}) * 60)) * 25)::numeric(14, 4) AS pr{j}, "
        f"(CASE WHEN {SCHEMA}.u({pid}, {30 + j}) < 0.15 THEN 10 ELSE 0 END)::numeric(5, 2) AS d{j}, "
        f"{SCHEMA}.pick({_array(ITEM_NAMES[j - 1])}, {pid}, {60 + j}) AS name{j}"
        for j in (1, 2, 3)
    )
    net = ", ".join(
        f"round(l1.q{j} * l1.pr{j}, {m}) - round(l1.q{j} * l1.pr{j} * l1.d{j} / 100, {m}) AS net{j}, "
        f"round(l1.q{j} * l1.pr{j} * l1.d{j} / 100, {m}) AS dc{j}"
        for j in (1, 2, 3)
    )
    tax = ", ".join(f"round(l2.net{j} * l2.tax / 100, {m}) AS tx{j}" for j in (1, 2, 3))
    return f"""
CROSS JOIN LATERAL (
    SELECT l3.*,
           l3.net1 + l3.net2 + l3.in3 * l3.net3 AS sum_net,
           l3.dc1 + l3.dc2 + l3.in3 * l3.dc3 AS sum_discount,
           l3.tx1 + l3.tx2 + l3.in3 * l3.tx3 AS sum_tax,
           l3.net1 + l3.net2 + l3.in3 * l3.net3 + l3.tx1 + l3.tx2 + l3.in3 * l3.tx3 AS total
    FROM (
        SELECT l2.*, {tax}
        FROM (
            SELECT l1.*, {net}
            FROM (
                SELECT {raw},
                       ((ARRAY[0, 0, 5, 10, 20])[1 + floor({SCHEMA}.u({pid}, 40) * 5)::int])::numeric(5, 2) AS tax,
                       {SCHEMA}.u({pid}, 50) < 0.5 AS opt3,
                       NOT ({SCHEMA}.u({pid}, 50) < 0.5) OR {SCHEMA}.u({pid}, 51) < 0.5 AS sel3,
                       CASE WHEN NOT ({SCHEMA}.u({pid}, 50) < 0.5) OR {SCHEMA}.u({pid}, 51) < 0.5
                            THEN 1 ELSE 0 END AS in3
                OFFSET 0
            ) l1
            OFFSET 0
        ) l2
        OFFSET 0
    ) l3
    OFFSET 0
) ln"""


def item_json(pid: str, j: int) -> str:
    """One snapshot item from ``ln``, in the shape of proposals.services._item_dict."""
    optional = "ln.opt3" if j == 3 else "false"
    selected = "ln.sel3" if j == 3 else "true"
    description = f"'{ITEM_DESCRIPTION}'" if j == 2 else "''"
    return (
        f"jsonb_build_object('key', (3 * {pid} - {3 - j})::text, 'name', ln.name{j}, "
        f"'description', {description}, 'quantity', ln.q{j}::text, "
        f"'unit_price', ln.pr{j}::text, 'discount_percent', ln.d{j}::text, "
        f"'tax_rate', ln.tax::text, 'optional', {optional}, 'selected', {selected})"
    )


# --- phases ---------------------------------------------------------------------------------

PLAN_SQL = f"""
DROP TABLE IF EXISTS {SCHEMA}.biz;
CREATE TABLE {SCHEMA}.biz AS
WITH base AS (
    SELECT i AS id,
           big.rank AS big_rank,
           CASE WHEN big.rank IS NOT NULL THEN 'big'
                WHEN {SCHEMA}.u(i, 1) < 0.03 THEN 'medium' ELSE 'tail' END AS tier
    FROM generate_series(1, %(businesses)s) AS i
    LEFT JOIN (
        SELECT r AS rank,
               floor(%(businesses)s::numeric * (2 * r - 1) / (2 * %(n_big)s))::int + 1 AS id
        FROM generate_series(1, %(n_big)s) AS r
    ) big ON big.id = i
), sized AS (
    SELECT base.*,
           CASE tier
               WHEN 'big' THEN round((%(big_sizes)s::int[])[big_rank] * %(big_factor)s)::int
               -- Under the smallest big business (a cap that only binds on small runs).
               WHEN 'medium' THEN least(20 + floor(800 * {SCHEMA}.u(id, 2) ^ 2.5)::int,
                                        round((%(big_sizes)s::int[])[array_length(%(big_sizes)s::int[], 1)]
                                              * %(big_factor)s)::int - 1)
               ELSE floor(20 * {SCHEMA}.u(id, 2) ^ 1.9)::int END AS n_proposals,
           CASE WHEN tier = 'big' THEN now_ - interval '1 day' * (720 + 30 * {SCHEMA}.u(id, 5))
                ELSE now_ - interval '1 day' * (2 + 758 * {SCHEMA}.u(id, 5)) END AS installed_at,
           (tier <> 'big' AND {SCHEMA}.u(id, 6) < 0.08) AS uninstalled,
           (tier = 'big' OR {SCHEMA}.u(id, 7) < CASE tier WHEN 'medium' THEN 0.6 ELSE 0.13 END)
               AS paid,
           (tier <> 'tail' OR {SCHEMA}.u(id, 8) < 0.4) AS has_owner,
           {SCHEMA}.u(id, 9) < 0.9 AS has_settings,
           {SCHEMA}.pick(ARRAY['en', 'en', 'en', 'en', 'en', 'de', 'fr', 'es', 'pt', 'it', 'nl',
                               'he', 'ja', 'pl'], id, 10) AS locale
    FROM base, (SELECT %(now)s::timestamptz AS now_) n
)
SELECT s.*,
       CASE WHEN tier = 'big' THEN n_proposals / 4
            WHEN n_proposals = 0 THEN (CASE WHEN {SCHEMA}.u(id, 11) < 0.5 THEN 1 ELSE 0 END)
            ELSE greatest(1, ceil(n_proposals * CASE tier WHEN 'medium' THEN 0.5 ELSE 0.7 END))::int
       END AS n_clients,
       CASE WHEN tier = 'big' THEN 4 WHEN tier = 'medium' THEN 1 ELSE 0 END AS n_extra_users,
       CASE locale WHEN 'en' THEN {SCHEMA}.pick(ARRAY['USD', 'USD', 'USD', 'GBP', 'CAD', 'AUD'],
                                                 id, 12)
                   WHEN 'de' THEN 'EUR' WHEN 'fr' THEN 'EUR' WHEN 'es' THEN 'EUR'
                   WHEN 'it' THEN 'EUR' WHEN 'nl' THEN 'EUR' WHEN 'pt' THEN 'BRL'
                   WHEN 'he' THEN 'ILS' WHEN 'ja' THEN 'JPY' ELSE 'PLN' END AS currency,
       CASE locale WHEN 'en' THEN {SCHEMA}.pick(ARRAY['America/New_York', 'America/Chicago',
                                                       'America/Los_Angeles', 'Europe/London',
                                                       'Australia/Sydney', 'America/Toronto',
                                                       'Pacific/Honolulu', 'UTC'], id, 13)
                   WHEN 'de' THEN 'Europe/Berlin' WHEN 'fr' THEN 'Europe/Paris'
                   WHEN 'es' THEN 'Europe/Madrid' WHEN 'it' THEN 'Europe/Rome'
                   WHEN 'nl' THEN 'Europe/Amsterdam' WHEN 'pt' THEN 'America/Sao_Paulo'
                   WHEN 'he' THEN 'Asia/Jerusalem' WHEN 'ja' THEN 'Asia/Tokyo'
                   ELSE 'Europe/Warsaw' END AS timezone,
       CASE WHEN has_settings THEN (ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 3, 5])[1 + floor({SCHEMA}.u(id, 14) * 12)::int]
            ELSE 3 END AS unopened_days,
       CASE WHEN has_settings THEN (ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 7, 7, 10, 14])[1 + floor({SCHEMA}.u(id, 15) * 12)::int]
            ELSE 7 END AS unanswered_days,
       CASE WHEN has_owner THEN id END AS owner_user_id
FROM sized s;
ALTER TABLE {SCHEMA}.biz ADD PRIMARY KEY (id);
ALTER TABLE {SCHEMA}.biz ADD COLUMN first_pid bigint, ADD COLUMN first_cid bigint;
UPDATE {SCHEMA}.biz b SET first_pid = o.first_pid, first_cid = o.first_cid
FROM (SELECT id,
             coalesce(sum(n_proposals) OVER w, 0) AS first_pid,
             coalesce(sum(n_clients) OVER w, 0) AS first_cid
      FROM {SCHEMA}.biz
      WINDOW w AS (ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)) o
WHERE o.id = b.id;
ANALYZE {SCHEMA}.biz;
"""

BUSINESSES_SQL = f"""
INSERT INTO accounts_business (id, instance_id, site_name, site_url, owner_email, locale, currency,
    timezone, plan, plan_product_id, plan_changed_at, status, installed_at, uninstalled_at,
    created_at, updated_at)
SELECT b.id,
       md5('instance:' || b.id)::uuid::text,
       n.site_name,
       CASE WHEN {SCHEMA}.u(b.id, 20) < 0.3 THEN 'https://www.' || n.slug || '.com'
            ELSE 'https://' || n.slug || '.wixsite.com/site' END,
       CASE WHEN b.has_owner THEN 'owner' || b.id || '@biz' || b.id || '.example.com' ELSE '' END,
       b.locale, b.currency, b.timezone,
       CASE WHEN b.paid THEN 'paid' ELSE 'free' END,
       CASE WHEN b.paid THEN 'proposals-pro-' || {SCHEMA}.pick(ARRAY['monthly', 'yearly'], b.id, 21)
            ELSE '' END,
       CASE WHEN b.paid THEN b.installed_at + (%(now)s::timestamptz - b.installed_at) * {SCHEMA}.u(b.id, 22) / 2 END,
       CASE WHEN b.uninstalled THEN 'uninstalled' ELSE 'active' END,
       b.installed_at,
       CASE WHEN b.uninstalled THEN b.installed_at + (%(now)s::timestamptz - b.installed_at) * {SCHEMA}.u(b.id, 23) END,
       b.installed_at,
       b.installed_at + (%(now)s::timestamptz - b.installed_at) * {SCHEMA}.u(b.id, 24)
FROM {SCHEMA}.biz b
CROSS JOIN LATERAL (
    SELECT w1 || ' ' || w2 AS site_name, lower(w1 || '-' || w2) || '-' || b.id AS slug
    FROM (SELECT {SCHEMA}.pick(ARRAY['Bright', 'Blue', 'North', 'Golden', 'Urban', 'Green', 'Bold',
                                      'Clear', 'Maple', 'Harbor', 'Summit', 'Atlas'], b.id, 25) AS w1,
                 {SCHEMA}.pick(ARRAY['Studio', 'Consulting', 'Design', 'Events', 'Builders',
                                      'Media', 'Fitness', 'Photography', 'Catering', 'Labs',
                                      'Interiors', 'Legal'], b.id, 26) AS w2) w
) n
"""

USERS_SQL = f"""
INSERT INTO accounts_user (id, password, last_login, is_superuser, email, full_name, is_staff,
    is_active, date_joined)
SELECT u.id, '!seed' || md5('pw:' || u.id), NULL, false, u.email, u.full_name, false, true,
       u.joined
FROM (
    SELECT b.owner_user_id AS id, 'owner' || b.id || '@biz' || b.id || '.example.com' AS email,
           {SCHEMA}.pick(ARRAY['Alex', 'Sam', 'Maria', 'Jonas', 'Lea', 'Noa', 'Yuki', 'Chris'],
                          b.id, 30) || ' Owner' AS full_name,
           b.installed_at AS joined
    FROM {SCHEMA}.biz b WHERE b.has_owner
    UNION ALL
    SELECT %(businesses)s + 4 * (b.id - 1) + m, 'member' || m || '.' || b.id || '@biz' || b.id
           || '.example.com',
           {SCHEMA}.pick(ARRAY['Robin', 'Kim', 'Dana', 'Eli', 'Mika', 'Sacha'], b.id, 30 + m)
           || ' Member ' || m,
           b.installed_at + interval '1 day' * m
    FROM {SCHEMA}.biz b CROSS JOIN LATERAL generate_series(1, b.n_extra_users) m
) u;
INSERT INTO accounts_membership (id, user_id, business_id, role, created_at)
SELECT 5 * (b.id - 1) + 1, b.owner_user_id, b.id, 'owner', b.installed_at
FROM {SCHEMA}.biz b WHERE b.has_owner
UNION ALL
SELECT 5 * (b.id - 1) + 1 + m, %(businesses)s + 4 * (b.id - 1) + m, b.id,
       CASE WHEN m = 1 THEN 'admin' ELSE 'member' END, b.installed_at + interval '1 day' * m
FROM {SCHEMA}.biz b CROSS JOIN LATERAL generate_series(1, b.n_extra_users) m;
"""

SETTINGS_SQL = f"""
INSERT INTO proposals_proposalsettings (id, business_id, brand_name, brand_color,
    remind_unopened_after_days, remind_unanswered_after_days, updated_at)
SELECT b.id, b.id,
       CASE WHEN {SCHEMA}.u(b.id, 40) < 0.5 THEN a.site_name || ' Ltd' ELSE '' END,
       {SCHEMA}.pick(ARRAY['#116dff', '#116dff', '#0f9d58', '#d93025', '#6a1b9a', '#ff6f00',
                            '#263238'], b.id, 41),
       b.unopened_days, b.unanswered_days, b.installed_at + interval '1 hour'
FROM {SCHEMA}.biz b JOIN accounts_business a ON a.id = b.id
WHERE b.has_settings;
INSERT INTO proposals_proposalsequence (id, business_id, last_number)
SELECT b.id, b.id, b.n_proposals FROM {SCHEMA}.biz b WHERE b.n_proposals > 0;
"""

CLIENTS_SQL = f"""
INSERT INTO proposals_client (id, business_id, name, email, company, wix_contact_id, created_at,
    updated_at)
SELECT x.id, b.id, x.first || ' ' || x.last,
       lower(x.first || '.' || x.last || x.id) || '@' || x.domain,
       CASE WHEN {SCHEMA}.u(x.id, 3) < 0.3 THEN ''
            ELSE x.last || ' ' || {SCHEMA}.pick(ARRAY['GmbH', 'Inc.', 'LLC', 'Ltd', 'SAS', 'BV',
                                                       '& Co', 'Group'], x.id, 4) END,
       CASE WHEN NOT (x.synced) THEN '' ELSE md5('contact:' || x.id)::uuid::text END,
       b.installed_at + (%(now)s::timestamptz - interval '1 hour' - b.installed_at) * (c::float8 / b.n_clients),
       b.installed_at + (%(now)s::timestamptz - interval '1 hour' - b.installed_at) * (c::float8 / b.n_clients)
FROM {SCHEMA}.biz b
CROSS JOIN LATERAL generate_series(0, b.n_clients - 1) c
CROSS JOIN LATERAL (
    SELECT b.first_cid + c + 1 AS id,
           {SCHEMA}.pick(ARRAY['Anna', 'Ben', 'Clara', 'David', 'Emma', 'Felix', 'Grace', 'Hugo',
                                'Ines', 'Jack', 'Lina', 'Marco', 'Nora', 'Omar', 'Paula', 'Ravi',
                                'Sofia', 'Tom', 'Uma', 'Victor', 'Wen', 'Yara', 'Zoe'],
                          b.first_cid + c + 1, 1) AS first,
           {SCHEMA}.pick(ARRAY['Smith', 'Garcia', 'Muller', 'Rossi', 'Cohen', 'Tanaka', 'Silva',
                                'Dubois', 'Novak', 'Jansen', 'Kowalski', 'Brown', 'Lopez',
                                'Schmidt', 'Levi', 'Moreau'], b.first_cid + c + 1, 2) AS last,
           {SCHEMA}.pick(ARRAY['gmail.com', 'outlook.com', 'example.org', 'mail.example.net',
                                'company.example.com'], b.first_cid + c + 1, 5) AS domain,
           (NOT b.uninstalled AND {SCHEMA}.u(b.first_cid + c + 1, 6) < 0.6) AS synced
) x
"""

# Each proposal's whole history is decided here; later phases read it from the row.
PROPOSALS_SQL = f"""
INSERT INTO proposals_proposal (id, business_id, number, title, client_id, currency, valid_until,
    intro, terms, status, current_version_id, has_unsent_changes, revision, total,
    decline_reason, created_by_id, created_at, updated_at, sent_at, viewed_at, answered_at,
    expired_at, withdrawn_at)
SELECT h.id, h.business_id, h.number, h.title, h.client_id, h.currency, h.valid_until,
       h.intro, h.terms, h.status,
       CASE WHEN h.status <> 'draft' THEN 2 * h.id - 2 + h.n_versions END,
       h.status IN ('sent', 'viewed') AND {SCHEMA}.u(h.id, 12) < 0.05,
       1 + h.edited + CASE WHEN h.status = 'draft' THEN 0 ELSE 2 * h.n_versions - 1 END
         + (h.viewed_at IS NOT NULL)::int
         + (h.status IN ('accepted', 'declined', 'expired', 'withdrawn'))::int,
       ln.total,
       CASE WHEN h.status = 'declined' THEN {SCHEMA}.pick(ARRAY['', '', 'Over our budget.',
            'We went with another supplier.', 'The project is on hold.',
            'Timing does not work for us.'], h.id, 13) ELSE '' END,
       h.owner_user_id, h.created_at,
       greatest(h.created_at, h.sent_at, h.viewed_at, h.answered_at, h.expired_at, h.withdrawn_at),
       h.sent_at, h.viewed_at, h.answered_at, h.expired_at, h.withdrawn_at
FROM (
    SELECT o.*,
           CASE WHEN o.outcome IN ('accepted', 'declined') THEN o.ends_at END AS answered_at,
           CASE WHEN o.outcome = 'expired'
                THEN o.expires_ts + interval '12 hours' + interval '20 minutes' * {SCHEMA}.u(o.id, 14)
           END AS expired_at,
           CASE WHEN o.outcome = 'withdrawn' THEN o.ends_at END AS withdrawn_at,
           CASE WHEN o.outcome IN ('accepted', 'declined') OR (o.outcome <> 'draft'
                     AND {SCHEMA}.u(o.id, 11) < CASE o.outcome WHEN 'withdrawn' THEN 0.4
                                                   WHEN 'expired' THEN 0.55 ELSE 0.45 END)
                THEN o.sent_at + (o.ends_at - o.sent_at) * {SCHEMA}.u(o.id, 10) * 0.9
           END AS viewed_at,
           CASE WHEN o.outcome = 'open' THEN NULL ELSE o.outcome END AS closed_status
    FROM (
        SELECT t.*,
               CASE WHEN t.is_draft THEN 'draft'
                    WHEN t.u7 < 0.03 THEN 'withdrawn'
                    WHEN t.u7 < 0.25 THEN 'accepted'
                    WHEN t.u7 < 0.36 THEN 'declined'
                    WHEN t.expires_ts + interval '12 hours' <= %(now)s::timestamptz THEN 'expired'
                    ELSE 'open' END AS outcome,
               -- When the proposal's story ends: an answer or a withdrawal comes before the
               -- earliest zone's end of the valid-until day; an open one runs until now.
               CASE WHEN t.is_draft THEN NULL
                    WHEN t.u7 < 0.36 THEN t.sent_at + (least(coalesce(t.expires_ts
                        - interval '14 hours', %(now)s::timestamptz), %(now)s::timestamptz) - t.sent_at) * t.u9 * t.u9
                    WHEN t.expires_ts + interval '12 hours' <= %(now)s::timestamptz THEN t.expires_ts
                    ELSE %(now)s::timestamptz END AS ends_at
        FROM (
            SELECT c.*,
                   CASE WHEN {SCHEMA}.u(c.id, 6) < 0.04 THEN NULL
                        ELSE (coalesce(c.sent_at, c.created_at) + interval '1 day' * c.valid_days)::date
                   END AS valid_until,
                   CASE WHEN {SCHEMA}.u(c.id, 6) >= 0.04 THEN
                        ((coalesce(c.sent_at, c.created_at) + interval '1 day' * c.valid_days)::date
                         + 1)::timestamp AT TIME ZONE 'UTC' END AS expires_ts
            FROM (
                SELECT k.*,
                       CASE WHEN k.is_draft THEN NULL
                            ELSE k.created_at + least(interval '2 days' * {SCHEMA}.u(k.id, 3),
                                                      (%(now)s::timestamptz - k.created_at) / 2)
                                 + interval '5 minutes' END AS sent_at,
                       (ARRAY[14, 30, 30, 30, 45, 60, 90])[1 + floor({SCHEMA}.u(k.id, 5) * 7)::int]
                           AS valid_days
                FROM (
                    SELECT p.*, {SCHEMA}.minor(p.currency) AS m,
                           {SCHEMA}.u(p.id, 2) < 0.09
                               OR (p.created_at > %(now)s::timestamptz - interval '2 days'
                                   AND {SCHEMA}.u(p.id, 2) < 0.4) AS is_draft,
                           CASE WHEN {SCHEMA}.u(p.id, 4) < 0.08 THEN 2 ELSE 1 END AS n_versions,
                           CASE WHEN {SCHEMA}.u(p.id, 8) < 0.5 THEN 1 ELSE 0 END AS edited,
                           {SCHEMA}.u(p.id, 7) AS u7, {SCHEMA}.u(p.id, 9) AS u9
                    FROM (
                        SELECT b.first_pid + k AS id, b.id AS business_id, k AS number,
                               b.first_cid + 1 + CASE
                                   WHEN {SCHEMA}.u(b.first_pid + k, 15) < 0.5 THEN f.frontier
                                   ELSE floor({SCHEMA}.u(b.first_pid + k, 16) * (f.frontier + 1))::int
                               END AS client_id,
                               CASE WHEN {SCHEMA}.u(b.first_pid + k, 17) < 0.05 THEN 'EUR'
                                    ELSE b.currency END AS currency,
                               {SCHEMA}.pick(ARRAY['Website redesign', 'Brand identity package',
                                   'Wedding photography', 'Monthly SEO retainer', 'Office fit-out',
                                   'Event catering', 'Personal training plan', 'Legal review',
                                   'Kitchen renovation', 'Online store setup', 'Video production',
                                   'Annual maintenance'], b.first_pid + k, 18) AS title,
                               {SCHEMA}.pick(ARRAY['', '<p>Thank you for the opportunity to quote.</p>',
                                   '<p>Here is our proposal, as discussed.</p>',
                                   '<p>We are excited to work with you.</p>'],
                                   b.first_pid + k, 19) AS intro,
                               {SCHEMA}.pick(ARRAY['', '<p>50%% upfront, balance on delivery.</p>',
                                   '<p>Payment due within 30 days of invoice.</p>'],
                                   b.first_pid + k, 20) AS terms,
                               b.owner_user_id,
                               b.installed_at + (%(now)s::timestamptz - interval '1 hour' - b.installed_at)
                                   * ((k - 1 + {SCHEMA}.u(b.first_pid + k, 1)) / b.n_proposals)
                                   AS created_at
                        FROM {SCHEMA}.biz b
                        CROSS JOIN LATERAL generate_series(
                            greatest(1, %(lo)s - b.first_pid),
                            least(b.n_proposals, %(hi)s - b.first_pid)) k
                        -- The newest client that existed when this proposal was written.
                        CROSS JOIN LATERAL (
                            SELECT ((k - 1)::bigint * b.n_clients / b.n_proposals)::int AS frontier
                        ) f
                        OFFSET 0
                    ) p
                    OFFSET 0
                ) k
                OFFSET 0
            ) c
            OFFSET 0
        ) t
        OFFSET 0
    ) o
) h0
CROSS JOIN LATERAL (
    SELECT h0.*, coalesce(h0.closed_status,
                          CASE WHEN h0.viewed_at IS NOT NULL THEN 'viewed' ELSE 'sent' END) AS status
) h
{lines_lateral("h.id", "h.m")}
"""

SECTIONS_SQL = """
INSERT INTO proposals_section (id, proposal_id, title, position)
SELECT 2 * p.id - 2 + s, p.id, CASE s WHEN 1 THEN 'Services' ELSE 'Options' END, s - 1
FROM proposals_proposal p CROSS JOIN generate_series(1, 2) s
WHERE p.id BETWEEN %(lo)s AND %(hi)s
"""

LINE_ITEMS_SQL = f"""
INSERT INTO proposals_lineitem (id, section_id, name, description, quantity, unit_price,
    discount_percent, tax_rate, optional, selected, position)
SELECT 3 * p.id - 3 + j, 2 * p.id - 2 + CASE WHEN j = 3 THEN 2 ELSE 1 END,
       CASE j WHEN 1 THEN {SCHEMA}.pick({_array(ITEM_NAMES[0])}, p.id, 61)
              WHEN 2 THEN {SCHEMA}.pick({_array(ITEM_NAMES[1])}, p.id, 62)
              ELSE {SCHEMA}.pick({_array(ITEM_NAMES[2])}, p.id, 63) END,
       CASE WHEN j = 2 THEN '{ITEM_DESCRIPTION}' ELSE '' END,
       -- The same expressions as lines_lateral's first level.
       (1 + floor({SCHEMA}.u(p.id, 10 + j) * 4))::numeric(12, 3),
       ((4 + floor({SCHEMA}.u(p.id, 20 + j) * 60)) * 25)::numeric(14, 4),
       (CASE WHEN {SCHEMA}.u(p.id, 30 + j) < 0.15 THEN 10 ELSE 0 END)::numeric(5, 2),
       ((ARRAY[0, 0, 5, 10, 20])[1 + floor({SCHEMA}.u(p.id, 40) * 5)::int])::numeric(5, 2),
       j = 3 AND {SCHEMA}.u(p.id, 50) < 0.5,
       j <> 3 OR NOT ({SCHEMA}.u(p.id, 50) < 0.5) OR {SCHEMA}.u(p.id, 51) < 0.5,
       CASE WHEN j = 3 THEN 0 ELSE j - 1 END
FROM proposals_proposal p CROSS JOIN generate_series(1, 3) j
WHERE p.id BETWEEN %(lo)s AND %(hi)s
"""

# One row per sent version; the snapshot has exactly proposal_snapshot's shape. A proposal
# sent twice has v1 (superseded) and v2 (current); reminders only ever concern the current one.
# content_hash is a SHA-256 like the product's (64 hex), but of the salt, id and total rather
# than of the canonical JSON (nothing recomputes it); tokens are 64 hex characters (URL-safe).
VERSIONS_SQL = f"""
INSERT INTO proposals_proposalversion (id, proposal_id, business_id, number, snapshot,
    content_hash, token, token_revoked_at, recipient_email, message, sent_by_id, sent_at,
    reminded_unopened_at, reminded_unanswered_at)
SELECT s.vid, s.pid, s.business_id, s.vnum, s.snapshot,
       encode(sha256(convert_to(%(salt)s || ':content:' || s.vid || ':' || s.snapshot_total, 'UTF8')), 'hex'),
       encode(sha256(convert_to(%(salt)s || ':token:' || s.vid, 'UTF8')), 'hex'),
       CASE WHEN s.status = 'withdrawn' THEN s.withdrawn_at END,
       s.email,
       CASE WHEN {SCHEMA}.u(s.vid, 1) < 0.3 THEN 'Hi, please find our proposal attached.'
            ELSE '' END,
       s.created_by_id, s.v_sent_at,
       CASE WHEN s.is_current AND s.unopened_days > 0
                 AND s.v_sent_at + interval '1 day' * s.unopened_days
                     < least(coalesce(s.viewed_at, %(now)s::timestamptz), s.ends_at)
                 AND NOT (s.status = 'sent' AND {SCHEMA}.u(s.vid, 2) < %(due_share)s)
            THEN s.v_sent_at + interval '1 day' * s.unopened_days
                 + interval '10 minutes' * {SCHEMA}.u(s.vid, 3) END,
       CASE WHEN s.is_current AND s.unanswered_days > 0
                 AND s.v_sent_at + interval '1 day' * s.unanswered_days < s.ends_at
                 AND NOT (s.status IN ('sent', 'viewed') AND {SCHEMA}.u(s.vid, 4) < %(due_share)s)
            THEN s.v_sent_at + interval '1 day' * s.unanswered_days
                 + interval '1 hour' + interval '10 minutes' * {SCHEMA}.u(s.vid, 5) END
FROM (
    SELECT p.id AS pid, p.business_id, p.status, p.withdrawn_at, p.viewed_at, p.created_by_id,
           2 * p.id - 2 + v AS vid, v AS vnum, c.email,
           2 * p.id - 2 + v = p.current_version_id AS is_current,
           CASE WHEN 2 * p.id - 2 + v = p.current_version_id THEN p.sent_at
                ELSE p.created_at + (p.sent_at - p.created_at) * 0.4 END AS v_sent_at,
           coalesce(p.answered_at, p.expired_at, p.withdrawn_at, %(now)s::timestamptz) AS ends_at,
           b.unopened_days, b.unanswered_days, ln.total AS snapshot_total,
           jsonb_build_object(
               'number', 'P-' || CASE WHEN p.number < 10000 THEN lpad(p.number::text, 4, '0')
                                      ELSE p.number::text END,
               'title', p.title,
               'currency', p.currency,
               'valid_until', to_char(p.valid_until, 'YYYY-MM-DD'),
               'intro', p.intro,
               'terms', p.terms,
               'client', jsonb_build_object('name', c.name, 'email', c.email,
                                            'company', c.company),
               'business', jsonb_build_object(
                   'name', coalesce(nullif(st.brand_name, ''), nullif(a.site_name, ''),
                                    'Your supplier'),
                   'brand_color', coalesce(st.brand_color, '#116dff'),
                   'logo', coalesce(st.logo, ''),
                   'site_url', a.site_url),
               'sections', jsonb_build_array(
                   jsonb_build_object('title', 'Services', 'items', jsonb_build_array(
                       {item_json("p.id", 1)}, {item_json("p.id", 2)})),
                   jsonb_build_object('title', 'Options', 'items', jsonb_build_array(
                       {item_json("p.id", 3)}))),
               'totals', jsonb_build_object(
                   'currency', p.currency,
                   'subtotal', ln.sum_net::text,
                   'discount', ln.sum_discount::text,
                   'tax', ln.sum_tax::text,
                   'total', ln.total::text)
           ) AS snapshot
    FROM proposals_proposal p
    JOIN proposals_client c ON c.id = p.client_id
    JOIN accounts_business a ON a.id = p.business_id
    JOIN {SCHEMA}.biz b ON b.id = p.business_id
    LEFT JOIN proposals_proposalsettings st ON st.business_id = p.business_id
    CROSS JOIN LATERAL (SELECT {SCHEMA}.minor(p.currency) AS m OFFSET 0) m
    {lines_lateral("p.id", "m.m")}
    CROSS JOIN LATERAL generate_series(1, p.current_version_id - (2 * p.id - 2)) v
    WHERE p.current_version_id IS NOT NULL AND p.id BETWEEN %(lo)s AND %(hi)s
) s
"""

VIEWS_SQL = f"""
INSERT INTO proposals_proposalview (id, version_id, proposal_id, business_id, viewed_at, ip,
    user_agent)
SELECT 4 * p.id + n, p.current_version_id, p.id, p.business_id,
       CASE WHEN n = 0 THEN p.viewed_at
            ELSE p.viewed_at + (coalesce(p.answered_at, p.expired_at, p.withdrawn_at, %(now)s::timestamptz)
                                - p.viewed_at) * {SCHEMA}.u(4 * p.id + n, 1) END,
       ('10.' || (p.id %% 250) || '.' || (n * 40 + p.business_id %% 40) || '.'
        || (1 + p.id %% 250))::inet,
       {SCHEMA}.pick(ARRAY[
           'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
           'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
           'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15',
           'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0'],
           p.id, 2)
FROM proposals_proposal p
CROSS JOIN LATERAL generate_series(0, floor({SCHEMA}.u(p.id, 30) ^ 2 * 4)::int) n
WHERE p.viewed_at IS NOT NULL AND p.id BETWEEN %(lo)s AND %(hi)s
"""

ACCEPTANCES_SQL = f"""
INSERT INTO proposals_acceptance (id, proposal_id, version_id, business_id, signed_name, email,
    ip, user_agent, accepted_at, selected_item_keys, total, content_hash)
SELECT p.id, p.id, p.current_version_id, p.business_id, c.name, c.email,
       ('10.' || (p.id %% 250) || '.0.' || (1 + p.id %% 250))::inet,
       'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
       p.answered_at,
       CASE WHEN {SCHEMA}.u(p.id, 50) < 0.5 AND {SCHEMA}.u(p.id, 51) < 0.5
            THEN jsonb_build_array((3 * p.id)::text) ELSE '[]'::jsonb END,
       p.total,
       encode(sha256(convert_to(%(salt)s || ':accepted:' || p.id, 'UTF8')), 'hex')
FROM proposals_proposal p JOIN proposals_client c ON c.id = p.client_id
WHERE p.status = 'accepted'
"""

# Every email the product would have recorded: per version (proposal, reminders) and per
# proposal event (owner notifications, acceptance copy). Slot = delivery id - 8 × proposal id.
DELIVERIES_SQL = f"""
INSERT INTO proposals_delivery (id, business_id, kind, recipient, proposal_id, version_id, context,
    idempotency_key, state, attempt_count, next_attempt_at, claimed_until, enqueued_at, last_error,
    message_id, request_id, created_at, updated_at, sent_at, retried_at, retried_by_id)
SELECT d.id, d.business_id, d.kind, d.recipient, d.proposal_id, d.version_id, d.context,
       d.idem, st.state,
       CASE st.state WHEN 'pending' THEN 0 WHEN 'cancelled' THEN 0
                     WHEN 'sent' THEN 1 + (({SCHEMA}.u(d.id, 2) < 0.06)::int)
                                        + (({SCHEMA}.u(d.id, 2) < 0.015)::int)
                     ELSE 1 + floor({SCHEMA}.u(d.id, 2) * 3)::int END,
       CASE st.state WHEN 'pending' THEN d.created_at
                     WHEN 'failed_retrying' THEN %(now)s::timestamptz + interval '1 minute'
                         + interval '50 minutes' * {SCHEMA}.u(d.id, 3) END,
       CASE WHEN st.state = 'sending' THEN %(now)s::timestamptz - interval '20 minutes'
                                           - interval '3 hours' * {SCHEMA}.u(d.id, 3) END,
       d.created_at + interval '1 second',
       CASE st.state WHEN 'failed_permanent' THEN '550 5.1.1 Recipient address rejected'
                     WHEN 'failed_retrying' THEN '421 4.7.0 Try again later'
                     WHEN 'cancelled' THEN 'proposal was answered' ELSE '' END,
       CASE WHEN st.state IN ('pending', 'cancelled') THEN ''
            ELSE '<seed.' || d.id || '@proposals.example.com>' END,
       {SCHEMA}.hex(d.id, 'delivery-request'),
       d.created_at,
       CASE st.state WHEN 'pending' THEN d.created_at
                     WHEN 'sending' THEN %(now)s::timestamptz - interval '20 minutes'
                                         - interval '3 hours' * {SCHEMA}.u(d.id, 3)
                     ELSE d.created_at + interval '3 seconds'
                          + interval '2 minutes' * {SCHEMA}.u(d.id, 4) END,
       CASE WHEN st.state = 'sent' THEN d.created_at + interval '3 seconds'
                                        + interval '2 minutes' * {SCHEMA}.u(d.id, 4) END,
       NULL::timestamptz, NULL::bigint
FROM (
    SELECT 8 * v.proposal_id + v.number - 1 AS id, v.business_id, 'proposal' AS kind,
           v.recipient_email AS recipient, v.proposal_id, v.id AS version_id,
           jsonb_build_object('message', v.message) AS context,
           'proposal:' || v.id AS idem, v.sent_at AS created_at
    FROM proposals_proposalversion v
    UNION ALL
    SELECT 8 * v.proposal_id + 3, v.business_id, 'reminder', v.recipient_email, v.proposal_id,
           v.id, '{{"rule": "unopened"}}'::jsonb, 'reminder:unopened:' || v.id,
           v.reminded_unopened_at
    FROM proposals_proposalversion v WHERE v.reminded_unopened_at IS NOT NULL
    UNION ALL
    SELECT 8 * v.proposal_id + 4, v.business_id, 'reminder', v.recipient_email, v.proposal_id,
           v.id, '{{"rule": "unanswered"}}'::jsonb, 'reminder:unanswered:' || v.id,
           v.reminded_unanswered_at
    FROM proposals_proposalversion v WHERE v.reminded_unanswered_at IS NOT NULL
    UNION ALL
    SELECT 8 * p.id + 2, p.business_id, 'owner_viewed', o.email, p.id, p.current_version_id,
           '{{}}'::jsonb, 'owner_viewed:' || p.id || ':' || p.current_version_id,
           p.viewed_at
    FROM proposals_proposal p JOIN accounts_user o ON o.id = p.created_by_id
    WHERE p.viewed_at IS NOT NULL AND {SCHEMA}.u(p.id, 80) < %(owner_share)s
    UNION ALL
    SELECT 8 * p.id + 5, p.business_id, 'acceptance_confirmation', c.email, p.id,
           p.current_version_id, '{{}}'::jsonb, 'acceptance_confirmation:' || p.id,
           p.answered_at + interval '1 second'
    FROM proposals_proposal p JOIN proposals_client c ON c.id = p.client_id
    WHERE p.status = 'accepted'
    UNION ALL
    SELECT 8 * p.id + 6, p.business_id, 'owner_' || p.status, o.email, p.id,
           p.current_version_id,
           CASE WHEN p.decline_reason <> '' THEN jsonb_build_object('reason', p.decline_reason)
                ELSE '{{}}'::jsonb END,
           'owner_' || p.status || ':' || p.id || ':' || p.current_version_id,
           p.answered_at + interval '2 seconds'
    FROM proposals_proposal p JOIN accounts_user o ON o.id = p.created_by_id
    WHERE p.status IN ('accepted', 'declined') AND {SCHEMA}.u(p.id, 81) < %(owner_share)s
) d
CROSS JOIN LATERAL (
    SELECT {SCHEMA}.delivery_state({SCHEMA}.u(d.id, 1),
                                   d.created_at > %(now)s::timestamptz - interval '36 hours') AS state
    OFFSET 0
) st
WHERE d.proposal_id BETWEEN %(lo)s AND %(hi)s
"""

# Attempts as the retention job leaves them: successes of the last 45 days (a little backlog
# past the 30-day window), failures of the last 190 days.
ATTEMPTS_SQL = f"""
INSERT INTO proposals_deliveryattempt (id, delivery_id, number, started_at, finished_at,
    duration_ms, outcome, smtp_code, smtp_message, error, worker, request_id)
SELECT 4 * d.id + n, d.id, n, a.started_at,
       CASE WHEN a.outcome <> 'in_progress' THEN a.started_at + interval '1 millisecond' * a.ms END,
       CASE WHEN a.outcome <> 'in_progress' THEN a.ms END,
       a.outcome,
       CASE a.outcome WHEN 'sent' THEN 250 WHEN 'transient_failure' THEN 421
                      WHEN 'permanent_failure' THEN 550 END,
       CASE a.outcome WHEN 'sent' THEN '2.0.0 Ok: queued'
                      WHEN 'transient_failure' THEN '4.7.0 Try again later'
                      WHEN 'permanent_failure' THEN '5.1.1 Recipient address rejected'
                      ELSE '' END,
       CASE a.outcome WHEN 'transient_failure' THEN 'SMTP 421: try again later'
                      WHEN 'permanent_failure' THEN 'SMTP 550: recipient rejected' ELSE '' END,
       'worker-' || (1 + d.id %% 4) || '@app-1:' || (4000 + d.id %% 97),
       d.request_id
FROM proposals_delivery d
CROSS JOIN LATERAL generate_series(1, d.attempt_count) n
CROSS JOIN LATERAL (
    SELECT CASE WHEN n < d.attempt_count THEN 'transient_failure'
                WHEN d.state = 'sent' THEN 'sent'
                WHEN d.state = 'failed_permanent' THEN 'permanent_failure'
                WHEN d.state = 'failed_retrying' THEN 'transient_failure'
                ELSE 'in_progress' END AS outcome,
           d.created_at + interval '2 seconds' + interval '90 seconds' * (n - 1) AS started_at,
           (120 + floor({SCHEMA}.u(4 * d.id + n, 1) * 1800))::int AS ms
) a
WHERE d.attempt_count > 0 AND d.proposal_id BETWEEN %(lo)s AND %(hi)s
  AND (d.created_at > %(now)s::timestamptz - interval '45 days'
       OR (d.state <> 'sent' AND d.created_at > %(now)s::timestamptz - interval '190 days'))
"""

# The timeline: events of the proposal, of its versions, and of its deliveries (slot =
# activity id - 20 × proposal id: 0-4 proposal, 5-8 versions, 10-17 deliveries).
ACTIVITIES_PROPOSAL_SQL = f"""
INSERT INTO proposals_activity (id, business_id, proposal_id, version_id, kind, actor_type,
    actor_user_id, details, request_id, created_at)
SELECT 20 * p.id + e.slot, p.business_id, p.id, e.version_id, e.kind, e.actor,
       CASE WHEN e.actor = 'user' THEN p.created_by_id END,
       e.details, {SCHEMA}.hex(20 * p.id + e.slot, 'activity-request'), e.at
FROM proposals_proposal p
JOIN proposals_client c ON c.id = p.client_id
CROSS JOIN LATERAL (VALUES
    (0, 'created', CASE WHEN p.created_by_id IS NULL THEN 'system' ELSE 'user' END, NULL::bigint,
     '{{}}'::jsonb, p.created_at, true),
    (1, 'edited', CASE WHEN p.created_by_id IS NULL THEN 'system' ELSE 'user' END, NULL,
     '{{}}'::jsonb, p.created_at + (coalesce(p.sent_at, p.updated_at) - p.created_at) * 0.2,
     {SCHEMA}.u(p.id, 8) < 0.5),
    (2, 'edited', CASE WHEN p.created_by_id IS NULL THEN 'system' ELSE 'user' END, NULL,
     '{{}}'::jsonb, p.created_at + (p.sent_at - p.created_at) * 0.6,
     p.current_version_id = 2 * p.id),
    (3, 'viewed', 'client', p.current_version_id, '{{}}'::jsonb, p.viewed_at,
     p.viewed_at IS NOT NULL),
    (4, p.status,
     CASE p.status WHEN 'withdrawn' THEN CASE WHEN p.created_by_id IS NULL THEN 'system'
                                              ELSE 'user' END
                   WHEN 'expired' THEN 'system' ELSE 'client' END,
     CASE WHEN p.status <> 'withdrawn' THEN p.current_version_id END,
     CASE p.status
         WHEN 'accepted' THEN jsonb_build_object('signed_name', c.name,
                                              'total', round(p.total, {SCHEMA}.minor(p.currency))::text)
         WHEN 'declined' THEN CASE WHEN p.decline_reason <> ''
                                   THEN jsonb_build_object('reason', p.decline_reason)
                                   ELSE '{{}}'::jsonb END
         WHEN 'expired' THEN jsonb_build_object('valid_until', to_char(p.valid_until, 'YYYY-MM-DD'))
         ELSE '{{}}'::jsonb END,
     coalesce(p.answered_at, p.expired_at, p.withdrawn_at),
     p.status IN ('accepted', 'declined', 'expired', 'withdrawn'))
) e(slot, kind, actor, version_id, details, at, present)
WHERE e.present AND p.id BETWEEN %(lo)s AND %(hi)s
"""

ACTIVITIES_VERSION_SQL = f"""
INSERT INTO proposals_activity (id, business_id, proposal_id, version_id, kind, actor_type,
    actor_user_id, details, request_id, created_at)
SELECT 20 * v.proposal_id + e.slot, v.business_id, v.proposal_id, v.id, e.kind, e.actor,
       CASE WHEN e.actor = 'user' THEN v.sent_by_id END, e.details,
       {SCHEMA}.hex(20 * v.proposal_id + e.slot, 'activity-request'), e.at
FROM proposals_proposalversion v
CROSS JOIN LATERAL (VALUES
    (4 + v.number, 'sent', CASE WHEN v.sent_by_id IS NULL THEN 'system' ELSE 'user' END,
     jsonb_build_object('version_number', v.number, 'recipient', v.recipient_email),
     v.sent_at, true),
    (7, 'reminded', 'system',
     jsonb_build_object('rule', 'unopened', 'recipient', v.recipient_email,
                        'delivery_id', 8 * v.proposal_id + 3),
     v.reminded_unopened_at, v.reminded_unopened_at IS NOT NULL),
    (8, 'reminded', 'system',
     jsonb_build_object('rule', 'unanswered', 'recipient', v.recipient_email,
                        'delivery_id', 8 * v.proposal_id + 4),
     v.reminded_unanswered_at, v.reminded_unanswered_at IS NOT NULL)
) e(slot, kind, actor, details, at, present)
WHERE e.present AND v.proposal_id BETWEEN %(lo)s AND %(hi)s
"""

ACTIVITIES_DELIVERY_SQL = """
INSERT INTO proposals_activity (id, business_id, proposal_id, version_id, kind, actor_type,
    actor_user_id, details, request_id, created_at)
SELECT 20 * d.proposal_id + 10 + (d.id - 8 * d.proposal_id), d.business_id, d.proposal_id,
       d.version_id,
       CASE WHEN d.state = 'sent' THEN 'delivery_sent' ELSE 'delivery_failed' END,
       'system', NULL,
       CASE WHEN d.state = 'sent'
            THEN jsonb_build_object('delivery_id', d.id, 'delivery_kind', d.kind,
                                    'recipient', d.recipient, 'attempts', d.attempt_count,
                                    'message_id', d.message_id)
            ELSE jsonb_build_object('delivery_id', d.id, 'delivery_kind', d.kind,
                                    'recipient', d.recipient, 'reason', d.last_error,
                                    'smtp_code', 550, 'attempts', d.attempt_count,
                                    'summary', 'delivery to ' || d.recipient || ' failed: '
                                               || d.last_error) END,
       d.request_id, d.updated_at
FROM proposals_delivery d
WHERE d.state IN ('sent', 'failed_permanent') AND d.proposal_id BETWEEN %(lo)s AND %(hi)s
"""

CONTACT_SYNC_SQL = f"""
INSERT INTO integrations_wixcontactsync (id, business_id, client_id, status, reason,
    wix_contact_id, synced_email, attempt_count, claimed_until, next_attempt_at, synced_at,
    last_error,
    request_id, created_at, updated_at)
SELECT c.id, c.business_id, c.id, s.status,
       {SCHEMA}.pick(ARRAY['client_created', 'client_created', 'email_changed', 'proposal_sent'],
                     c.id, 7),
       CASE WHEN s.status = 'synced' THEN c.wix_contact_id ELSE '' END,
       CASE WHEN s.status = 'synced' THEN c.email ELSE '' END,
       CASE s.status WHEN 'pending' THEN 0 WHEN 'failed' THEN 5 ELSE 1 END,
       NULL,
       CASE WHEN s.status = 'pending' THEN %(now)s::timestamptz - interval '1 minute' * {SCHEMA}.u(c.id, 9) * 30
            ELSE c.created_at END,
       CASE WHEN s.status = 'synced' THEN c.created_at + interval '4 seconds' END,
       CASE WHEN s.status = 'failed' THEN 'HTTP 400: invalid email for contact' ELSE '' END,
       {SCHEMA}.hex(c.id, 'contact-request'),
       c.created_at, c.created_at + interval '4 seconds'
FROM proposals_client c
CROSS JOIN LATERAL (
    SELECT CASE WHEN c.wix_contact_id <> '' THEN 'synced'
                WHEN {SCHEMA}.u(c.id, 8) < 0.002 THEN 'failed'
                WHEN {SCHEMA}.u(c.id, 8) < 0.004 THEN 'pending' END AS status
) s
WHERE s.status IS NOT NULL
"""

WEBHOOKS_SQL = f"""
INSERT INTO integrations_webhookreceipt (id, status, verified, rejected_reason, event_type,
    instance_id, business_id, claims, raw_excerpt, body_size, occurred_at, dedup_key, deliveries,
    received_at, last_received_at, request_id, attempt_count, claimed_until, next_attempt_at,
    processed_at, last_error)
SELECT w.id, w.status, w.status <> 'rejected',
       CASE WHEN w.status = 'rejected' THEN {SCHEMA}.pick(ARRAY['bad_signature', 'stale',
            'not_a_jwt', 'expired'], w.id, 3) ELSE '' END,
       CASE WHEN w.status = 'rejected' THEN '' ELSE w.event_type END,
       CASE WHEN w.status = 'rejected' THEN '' ELSE a.instance_id END,
       CASE WHEN w.status = 'rejected' THEN NULL ELSE a.id END,
       CASE WHEN w.status = 'rejected' THEN NULL
            ELSE jsonb_build_object('iat', extract(epoch FROM w.at)::bigint,
                                    'data', jsonb_build_object(
                                        'eventType', w.event_type, 'instanceId', a.instance_id,
                                        'eventId', md5('event:' || w.id)::uuid::text,
                                        'data', jsonb_build_object())) END,
       CASE WHEN w.status = 'rejected' THEN 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJkYXRhIjoi' ELSE '' END,
       600 + floor({SCHEMA}.u(w.id, 4) * 900)::int,
       CASE WHEN w.status = 'rejected' THEN NULL ELSE w.at - interval '2 seconds' END,
       CASE WHEN w.status = 'rejected' THEN NULL
            ELSE encode(sha256(convert_to('id:' || md5('event:' || w.id)::uuid::text, 'UTF8')), 'hex') END,
       CASE WHEN {SCHEMA}.u(w.id, 5) < 0.05 THEN 2 ELSE 1 END,
       w.at, w.at + CASE WHEN {SCHEMA}.u(w.id, 5) < 0.05 THEN interval '30 seconds' ELSE interval '0' END,
       {SCHEMA}.hex(w.id, 'webhook-request'),
       CASE w.status WHEN 'rejected' THEN 0 WHEN 'pending' THEN 0 WHEN 'failed' THEN 5 ELSE 1 END,
       CASE WHEN w.status IN ('processed', 'ignored', 'failed') THEN w.at + interval '1 second' END,
       CASE WHEN w.status = 'pending' THEN w.at END,
       CASE WHEN w.status IN ('processed', 'ignored') THEN w.at + interval '2 seconds' END,
       CASE WHEN w.status = 'failed' THEN 'Wix API unavailable (circuit open)' ELSE '' END
FROM (
    SELECT i AS id,
           1 + floor({SCHEMA}.u(i, 1) * %(businesses)s)::int AS business_id,
           CASE WHEN {SCHEMA}.u(i, 2) < 0.03 THEN 'rejected'
                WHEN {SCHEMA}.u(i, 2) < 0.037 THEN 'failed'
                WHEN {SCHEMA}.u(i, 2) < 0.08 THEN 'ignored'
                ELSE 'processed' END AS status0,
           {SCHEMA}.pick(ARRAY['AppInstalled', 'AppRemoved', 'PlanPurchased', 'PlanChanged',
                               'PlanAutoRenewalCancelled', 'PaidPlanChanged'], i, 6) AS event_type,
           -- Mostly the last 35 days; failures and rejections kept longer by retention.
           %(now)s::timestamptz - CASE WHEN {SCHEMA}.u(i, 2) < 0.037
                          THEN interval '1 day' * 180 * {SCHEMA}.u(i, 7)
                          ELSE interval '1 day' * 35 * {SCHEMA}.u(i, 7) END AS at
    FROM generate_series(1, %(webhooks)s) i
) w0
CROSS JOIN LATERAL (
    SELECT w0.*, CASE WHEN w0.at > %(now)s::timestamptz - interval '2 minutes' AND w0.status0 = 'processed'
                      THEN 'pending' ELSE w0.status0 END AS status
) w
JOIN accounts_business a ON a.id = w.business_id
"""

CALLS_SQL = f"""
INSERT INTO integrations_integrationcall (id, business_id, api, endpoint, method, status, ok,
    duration_ms, attempt, request_id, error, created_at)
SELECT i, 1 + floor({SCHEMA}.u(i, 1) * %(businesses)s)::int, c.api, c.endpoint, c.method,
       CASE WHEN c.ok THEN 200
            WHEN {SCHEMA}.u(i, 3) < 0.5 THEN (ARRAY[429, 500, 502, 503])[1 + floor({SCHEMA}.u(i, 4) * 4)::int]
            END,
       c.ok, (40 + floor({SCHEMA}.u(i, 5) ^ 3 * 3000))::int,
       CASE WHEN NOT c.ok AND {SCHEMA}.u(i, 6) < 0.5 THEN 2 ELSE 1 END,
       {SCHEMA}.hex(i, 'call-request'),
       CASE WHEN c.ok THEN '' WHEN {SCHEMA}.u(i, 3) < 0.5 THEN 'HTTP error from Wix'
            ELSE 'timeout after 10s' END,
       %(now)s::timestamptz - CASE WHEN c.ok THEN interval '1 day' * 16 * {SCHEMA}.u(i, 7)
                      ELSE interval '1 day' * 90 * {SCHEMA}.u(i, 7) END
FROM generate_series(1, %(calls)s) i
CROSS JOIN LATERAL (
    SELECT e.api, e.endpoint, e.method, {SCHEMA}.u(i, 2) >= 0.04 AS ok
    FROM (SELECT (ARRAY['oauth', 'apps', 'contacts', 'contacts'])[k] AS api,
                 (ARRAY['/oauth2/token', '/apps/v1/instance', '/contacts/v4/contacts/query',
                        '/contacts/v4/contacts'])[k] AS endpoint,
                 (ARRAY['POST', 'GET', 'POST', 'POST'])[k] AS method
          FROM (SELECT 1 + floor({SCHEMA}.u(i, 8) * 4)::int AS k) kk) e
) c
"""


# --- Python phases ------------------------------------------------------------------------

INDEXED_TABLES = (
    "accounts_business",
    "accounts_membership",
    "proposals_client",
    "proposals_proposal",
    "proposals_section",
    "proposals_lineitem",
    "proposals_proposalversion",
    "proposals_proposalview",
    "proposals_acceptance",
    "proposals_delivery",
    "proposals_deliveryattempt",
    "proposals_activity",
    "integrations_wixcontactsync",
    "integrations_webhookreceipt",
    "integrations_integrationcall",
)


def drop_secondary_indexes(cursor, params: dict) -> int:
    """Save and drop the non-unique indexes of the filled tables (rebuilt by ``indexes``).

    Primary keys and unique indexes stay: they guard the seed against duplicates.
    """
    cursor.execute(
        f"""
        INSERT INTO {SCHEMA}.saved_index (name, tablename, definition)
        SELECT i.relname, t.relname, pg_get_indexdef(i.oid)
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = current_schema() AND t.relname = ANY(%s)
          AND NOT x.indisprimary AND NOT x.indisunique
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
        ON CONFLICT (name) DO NOTHING
        """,
        [list(INDEXED_TABLES)],
    )
    cursor.execute(f"SELECT name FROM {SCHEMA}.saved_index ORDER BY name")
    names = [row[0] for row in cursor.fetchall()]
    for name in names:
        cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
    return len(names)


def recreate_indexes(cursor, params: dict) -> int:
    """Build every saved index that is missing, several at once; each commits on its own."""
    cursor.execute(f"SELECT name, definition FROM {SCHEMA}.saved_index ORDER BY tablename, name")
    saved = cursor.fetchall()

    def build(item: tuple[str, str]) -> None:
        from django.db import connection, transaction

        name, definition = item
        with transaction.atomic(), connection.cursor() as own:
            own.execute("SELECT to_regclass(%s)", [f'"{name}"'])
            if own.fetchone()[0] is None:
                own.execute(definition)
            own.execute(f"DELETE FROM {SCHEMA}.saved_index WHERE name = %s", [name])

    in_threads(build, saved, workers=params["workers"])
    return len(saved)


def reminder_due_times(cursor, params: dict) -> int:
    """When each open proposal's reminder rules come due: the send sets them, bulk rows skip it."""
    from proposals.reminders import reminders_schedule_all

    return reminders_schedule_all(cursor)


def reset_sequences(cursor, params: dict) -> int:
    """Move each id sequence past the ids the seed wrote (they came from generate_series)."""
    for table in SEEDED_TABLES:
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence(%s, 'id'), coalesce(max(id), 1), "
            f"max(id) IS NOT NULL) FROM {table}",
            [table],
        )
    return len(SEEDED_TABLES)


def create_logins(cursor, params: dict) -> int:
    """The staff superuser and two owner logins with a known password; ids kept in meta."""
    from accounts.models import User

    cursor.execute(
        f"SELECT id FROM {SCHEMA}.biz WHERE tier = 'big' ORDER BY n_proposals DESC, id LIMIT 1"
    )
    biggest = cursor.fetchone()[0]
    cursor.execute(
        f"""
        SELECT id FROM {SCHEMA}.biz
        WHERE tier <> 'big' AND has_owner AND NOT uninstalled AND n_proposals > 0
        ORDER BY (tier = 'tail' AND NOT paid AND n_proposals BETWEEN 8 AND 15) DESC,
                 abs(n_proposals - 10), id
        LIMIT 1
        """
    )
    row = cursor.fetchone()
    typical = row[0] if row else biggest
    admin = User.objects.filter(email=BENCH_ADMIN_EMAIL).first()
    if admin is None:
        admin = User.objects.create_superuser(
            BENCH_ADMIN_EMAIL, BENCH_PASSWORD, full_name="Bench Admin"
        )
    owners = {}
    for key, business_id in (("biggest", biggest), ("typical", typical)):
        user = User.objects.get(pk=business_id)  # the owner's user id is the business id
        user.set_password(BENCH_PASSWORD)
        user.save(update_fields=["password"])
        owners[key] = user.email
    meta = {
        "biggest_business_id": str(biggest),
        "typical_business_id": str(typical),
        "biggest_owner_email": owners["biggest"],
        "typical_owner_email": owners["typical"],
        "bench_admin_email": BENCH_ADMIN_EMAIL,
        "bench_admin_id": str(admin.pk),
        "password": BENCH_PASSWORD,
    }
    for key, value in meta.items():
        cursor.execute(
            f"INSERT INTO {SCHEMA}.meta (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            [key, value],
        )
    return 3


# Tables whose lists and counters benefit from index-only scans (visibility map); the others
# only need statistics (a VACUUM rewrites every page of a freshly filled table).
VACUUMED_TABLES = (
    "accounts_business",
    "proposals_client",
    "proposals_proposal",
    "proposals_proposalversion",
    "proposals_activity",
    "proposals_delivery",
)


def vacuum_analyze(cursor, params: dict) -> int:
    """ANALYZE every table (planner statistics); VACUUM the listed ones (visibility map)."""

    def vacuum(table: str) -> None:
        from django.db import connection

        with connection.cursor() as own:
            if table in VACUUMED_TABLES:
                own.execute(f"VACUUM (ANALYZE) {table}")
            else:
                own.execute(f"ANALYZE {table}")

    in_threads(vacuum, list(SEEDED_TABLES), workers=params["workers"])
    return len(SEEDED_TABLES)


def in_threads(fn: Callable, items: list, *, workers: int) -> None:
    """``fn(item)`` for every item, ``workers`` at a time, each thread on its own connection."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for future in [pool.submit(_with_session, fn, item) for item in items]:
            future.result()


def _with_session(fn: Callable, *args):
    from django.db import connection

    try:
        set_session(connection)
        return fn(*args)
    finally:
        connection.close()


def set_session(connection) -> None:
    with connection.cursor() as cursor:
        for name, value in SESSION_SETTINGS.items():
            cursor.execute(f"SET {name} = {value}")


def reset_session(connection) -> None:
    with connection.cursor() as cursor:
        for name in SESSION_SETTINGS:
            cursor.execute(f"RESET {name}")


# --- the phases, in order -----------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    name: str
    statements: tuple[str, ...] = ()
    # Phases that must have finished first (the rows this one reads).
    after: tuple[str, ...] = ()
    # Python work instead of statements: gets the cursor and the parameters, returns a count.
    run: Callable | None = None
    # False: the work commits piece by piece (or cannot run in a transaction) and is idempotent.
    atomic: bool = True
    # Split into PARTS ranges of proposal ids, run at once (each its own phase "name.i").
    split: bool = False
    # The proposal-id range of this part (set on the parts of a split phase).
    part: int = 0

    def units(self) -> list[Phase]:
        if not self.split:
            return [self]
        return [replace(self, name=f"{self.name}.{i}", part=i) for i in range(1, PARTS + 1)]

    @property
    def base(self) -> str:
        return self.name.split(".")[0]


PARTS = 3

DATA_PHASES: tuple[Phase, ...] = (
    Phase("plan", (PLAN_SQL,)),
    Phase("businesses", (BUSINESSES_SQL,), after=("plan", "drop_indexes")),
    Phase("users", (USERS_SQL,), after=("businesses",)),
    Phase("settings", (SETTINGS_SQL,), after=("businesses",)),
    Phase("clients", (CLIENTS_SQL,), after=("businesses",)),
    Phase("proposals", (PROPOSALS_SQL,), after=("clients", "users"), split=True),
    Phase("sections", (SECTIONS_SQL,), after=("proposals",), split=True),
    Phase("line_items", (LINE_ITEMS_SQL,), after=("proposals",), split=True),
    Phase("versions", (VERSIONS_SQL,), after=("proposals", "settings"), split=True),
    Phase("views", (VIEWS_SQL,), after=("proposals",), split=True),
    Phase("acceptances", (ACCEPTANCES_SQL,), after=("proposals",)),
    Phase("reminder_due_times", run=reminder_due_times, after=("versions", "settings")),
    Phase("deliveries", (DELIVERIES_SQL,), after=("versions",), split=True),
    Phase("attempts", (ATTEMPTS_SQL,), after=("deliveries",), split=True),
    Phase("activities_proposal", (ACTIVITIES_PROPOSAL_SQL,), after=("proposals",), split=True),
    Phase("activities_version", (ACTIVITIES_VERSION_SQL,), after=("versions",), split=True),
    Phase("activities_delivery", (ACTIVITIES_DELIVERY_SQL,), after=("deliveries",), split=True),
    Phase("contact_syncs", (CONTACT_SYNC_SQL,), after=("clients",)),
    Phase("webhook_receipts", (WEBHOOKS_SQL,), after=("businesses",)),
    Phase("integration_calls", (CALLS_SQL,), after=("businesses",)),
)
_ALL_DATA = tuple(phase.name for phase in DATA_PHASES)

PHASES: tuple[Phase, ...] = (
    Phase("drop_indexes", run=drop_secondary_indexes),
    *DATA_PHASES,
    Phase("sequences", run=reset_sequences, after=_ALL_DATA),
    Phase("logins", run=create_logins, after=("sequences",)),
    Phase("indexes", run=recreate_indexes, atomic=False, after=_ALL_DATA),
    Phase("vacuum_analyze", run=vacuum_analyze, atomic=False, after=("indexes", "logins")),
)


@dataclass(frozen=True)
class Sizes:
    businesses: int
    n_big: int
    big_factor: float
    webhooks: int
    calls: int

    @classmethod
    def for_businesses(cls, businesses: int) -> Sizes:
        share = businesses / FULL_BUSINESSES
        return cls(
            businesses=businesses,
            n_big=max(1, round(len(BIG_SIZES) * share)),
            # A small run keeps one "big" business of a few hundred proposals.
            big_factor=max(share, 200 / BIG_SIZES[0]),
            webhooks=max(50, round(320_000 * share)),
            calls=max(50, round(420_000 * share)),
        )


# --- running ------------------------------------------------------------------------------

SESSION_SETTINGS = {
    "synchronous_commit": "off",
    "maintenance_work_mem": "'1GB'",
    "work_mem": "'256MB'",
    "statement_timeout": "0",
    # The generated expressions are large: compiling them costs far more than it saves.
    "jit": "off",
    # No foreign-key triggers while filling: the ids are consistent by construction (and
    # checked by the tests); this is what makes 10M-row inserts take seconds, not minutes.
    "session_replication_role": "replica",
}


class SeedError(Exception):
    pass


def schema_exists(cursor) -> bool:
    cursor.execute("SELECT to_regnamespace(%s) IS NOT NULL", [SCHEMA])
    return bool(cursor.fetchone()[0])


def reset(cursor) -> None:
    """Empty the seeded tables, put back any index an interrupted run dropped, forget progress."""
    cursor.execute("TRUNCATE " + ", ".join(SEEDED_TABLES) + " RESTART IDENTITY CASCADE")
    if schema_exists(cursor):
        cursor.execute(f"SELECT name, definition FROM {SCHEMA}.saved_index")
        for name, definition in cursor.fetchall():
            cursor.execute("SELECT to_regclass(%s)", [f'"{name}"'])
            if cursor.fetchone()[0] is None:
                cursor.execute(definition)
        cursor.execute(f"DROP SCHEMA {SCHEMA} CASCADE")


def read_meta(cursor) -> dict[str, str]:
    if not schema_exists(cursor):
        return {}
    cursor.execute(f"SELECT key, value FROM {SCHEMA}.meta")
    return dict(cursor.fetchall())


def finished_phases(cursor) -> dict[str, tuple[int, float]]:
    cursor.execute(f"SELECT phase, rows, seconds FROM {SCHEMA}.progress")
    return {name: (rows, float(seconds)) for name, rows, seconds in cursor.fetchall()}


def prepare(cursor, *, businesses: int, workers: int = 3) -> dict:
    """Create the helpers; start a run (fixed ``now`` and salt) or check it matches the one
    in progress. Returns the parameters every phase's SQL uses."""
    started = schema_exists(cursor)
    if not started:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM accounts_business)")
        if cursor.fetchone()[0]:
            raise SeedError(
                "accounts_business already holds rows that this command did not write; "
                "run with --reset to empty the seeded tables first."
            )
    cursor.execute(SETUP_SQL)
    cursor.execute(
        f"""
        INSERT INTO {SCHEMA}.meta (key, value) VALUES
            ('businesses', %s), ('now', now()::text), ('salt', md5(random()::text))
        ON CONFLICT (key) DO NOTHING
        """,
        [str(businesses)],
    )
    meta = read_meta(cursor)
    if int(meta["businesses"]) != businesses:
        raise SeedError(
            f"A seed of {meta['businesses']} businesses is in this database; "
            f"run with --reset to start one of {businesses}."
        )
    sizes = Sizes.for_businesses(businesses)
    return {
        "now": meta["now"],
        "salt": meta["salt"],
        "businesses": sizes.businesses,
        "n_big": sizes.n_big,
        "big_sizes": list(BIG_SIZES),
        "big_factor": sizes.big_factor,
        "webhooks": sizes.webhooks,
        "calls": sizes.calls,
        # Share of open proposals whose reminder is left due (not yet sent) for the next run.
        "due_share": 0.05,
        # Owner notifications are kept for a sample of events (the full set would double the
        # deliveries beyond the production count).
        "owner_share": 0.1,
        "workers": workers,
    }


def run_all(params: dict, done: set[str], report: Callable) -> None:
    """Run the unfinished phases, up to ``params["workers"]`` at once, each as soon as the
    phases it reads from are done; ``report(phase, rows, seconds)`` after each one.

    On a failure no new phase starts; the running ones finish (and are recorded), then the
    error is raised: the next run continues from there.
    """
    units = [unit for phase in PHASES for unit in phase.units()]
    pending = [unit for unit in units if unit.name not in done]
    finished = set(done)

    def ready(phase: Phase) -> bool:
        return all(u.name in finished for u in units if u.base in phase.after)

    running: dict = {}
    error: BaseException | None = None
    with ThreadPoolExecutor(max_workers=max(1, params["workers"])) as pool:
        while running or (pending and error is None):
            if error is None:
                for phase in list(pending):
                    if len(running) >= params["workers"]:
                        break
                    if ready(phase):
                        pending.remove(phase)
                        running[pool.submit(_run_in_thread, phase, params)] = phase
            if not running:
                raise SeedError(f"phases cannot start: {[p.name for p in pending]}")
            completed, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in completed:
                phase = running.pop(future)
                try:
                    rows, seconds = future.result()
                except BaseException as exc:
                    error = error or exc
                    continue
                finished.add(phase.name)
                report(phase, rows, seconds)
    if error is not None:
        raise error


def _run_in_thread(phase: Phase, params: dict) -> tuple[int, float]:
    from django.db import connection

    params = {**params, "lo": 0, "hi": 2**62}
    if phase.part:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT coalesce(sum(n_proposals), 0) FROM {SCHEMA}.biz")
            total = cursor.fetchone()[0]
        params["lo"] = total * (phase.part - 1) // PARTS + 1
        params["hi"] = total * phase.part // PARTS
    return _with_session(run_phase, connection, phase, params)


def run_phase(connection, phase: Phase, params: dict) -> tuple[int, float]:
    """Run one phase and record it; an atomic phase commits its rows and its record together."""
    from django.db import transaction

    started = time.monotonic()
    if phase.atomic:
        with transaction.atomic(), connection.cursor() as cursor:
            rows = _execute(cursor, phase, params)
            seconds = time.monotonic() - started
            _record(cursor, phase.name, rows, seconds)
    else:
        with connection.cursor() as cursor:
            rows = _execute(cursor, phase, params)
            seconds = time.monotonic() - started
            _record(cursor, phase.name, rows, seconds)
    return rows, seconds


def _execute(cursor, phase: Phase, params: dict) -> int:
    if phase.run is not None:
        return phase.run(cursor, params)
    rows = 0
    for statement in phase.statements:
        cursor.execute(statement, params)
        rows += max(cursor.rowcount, 0)
    if phase.base == "plan":
        cursor.execute(f"SELECT count(*) FROM {SCHEMA}.biz")
        rows = cursor.fetchone()[0]
    return rows


def _record(cursor, name: str, rows: int, seconds: float) -> None:
    cursor.execute(
        f"INSERT INTO {SCHEMA}.progress (phase, rows, seconds) VALUES (%s, %s, %s)",
        [name, rows, round(seconds, 2)],
    )
