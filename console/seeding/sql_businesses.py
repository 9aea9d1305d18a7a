# SQL is assembled from this module's constants only (no input reaches it); some SQL lines
# (user agents, nested CASEs) read better unbroken.
# ruff: noqa: S608, E501
"""The plan (a row per business: tier, sizes, id offsets) and the rows of accounts and of each
business's settings and clients."""

from console.seeding.schema import SCHEMA

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
