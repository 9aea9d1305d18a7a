# SQL is assembled from this module's constants only (no input reaches it); some SQL lines
# (user agents, nested CASEs) read better unbroken.
# ruff: noqa: S608, E501
"""Proposals, their sections, line items, sent versions, views and acceptances."""

from console.seeding.lines import ITEM_DESCRIPTION, ITEM_NAMES, _array, item_json, lines_lateral
from console.seeding.schema import SCHEMA

# Each proposal's whole history is decided here; later phases read it from the row.
PROPOSALS_SQL = f"""
INSERT INTO proposals_proposal (id, business_id, number, title, client_id, currency, valid_until,
    sent_valid_until, intro, terms, status, current_version_id, has_unsent_changes, revision, total,
    decline_reason, created_by_id, created_at, updated_at, sent_at, viewed_at, answered_at,
    expired_at, withdrawn_at)
SELECT h.id, h.business_id, h.number, h.title, h.client_id, h.currency, h.valid_until,
       CASE WHEN h.status <> 'draft' THEN h.valid_until END,
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
                                    %(brand_name_fallback)s::text),
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
