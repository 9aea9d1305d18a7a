# SQL is assembled from this module's constants only (no input reaches it); some SQL lines
# (user agents, nested CASEs) read better unbroken.
# ruff: noqa: S608, E501
"""The Wix side: contact syncs, webhook receipts, invoices and outbound integration calls."""

from console.seeding.schema import SCHEMA

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

# One accepted proposal in five has a schedule: a 30% deposit invoiced at acceptance and the
# balance 30 days later. Most are sent and paid; the balance of recent ones waits for its day;
# a few failed (Invoices not on the site).
WIX_INVOICES_SQL = f"""
INSERT INTO integrations_wixinvoice (id, business_id, proposal_id, acceptance_id, position, kind, label,
    amount, currency, due_at, reference, state, step, payment, wix_invoice_id, number,
    paid_amount, create_attempted_at, sent_at, retried_at, request_id, created_at, updated_at,
    attempt_count, next_attempt_at, claimed_until, last_error)
SELECT 2 * a.id + n.pos - 1, a.business_id, a.proposal_id, a.id, n.pos,
       CASE n.pos WHEN 1 THEN 'deposit' ELSE 'milestone' END,
       CASE n.pos WHEN 1 THEN 'Deposit' ELSE 'Balance' END,
       CASE n.pos WHEN 1 THEN round(a.total * 0.3, 2) ELSE a.total - round(a.total * 0.3, 2) END,
       p.currency, d.due_at,
       md5(%(salt)s || ':invoice:' || a.id || ':' || n.pos)::uuid,
       d.state, d.step, d.payment,
       CASE WHEN d.state <> 'failed' THEN {SCHEMA}.hex(a.id * 2 + n.pos, 'invoice') ELSE '' END,
       CASE WHEN d.state <> 'failed' THEN 'INV-' || lpad((2 * a.id + n.pos)::text, 6, '0') ELSE '' END,
       CASE WHEN d.payment = 'paid' THEN
            CASE n.pos WHEN 1 THEN round(a.total * 0.3, 2) ELSE a.total - round(a.total * 0.3, 2) END
            ELSE 0 END,
       a.accepted_at + interval '3 seconds',
       CASE WHEN d.step = 'watch' THEN greatest(d.due_at, a.accepted_at) + interval '5 seconds' END,
       NULL, '', a.accepted_at, a.accepted_at + interval '5 seconds',
       CASE d.state WHEN 'failed' THEN 1 ELSE 0 END,
       CASE WHEN d.state = 'pending' THEN
            CASE d.step WHEN 'send' THEN d.due_at ELSE %(now)s::timestamptz + interval '6 hours' END
       END,
       NULL,
       CASE WHEN d.state = 'failed' THEN 'Wix Invoices is not yet available on this site' ELSE '' END
FROM proposals_acceptance a
JOIN proposals_proposal p ON p.id = a.proposal_id
CROSS JOIN (VALUES (1), (2)) n(pos)
CROSS JOIN LATERAL (
    SELECT CASE n.pos WHEN 1 THEN a.accepted_at ELSE a.accepted_at + interval '30 days' END AS due_at
) t
CROSS JOIN LATERAL (
    SELECT t.due_at,
           CASE WHEN {SCHEMA}.u(a.id, 61) < 0.01 THEN 'failed'
                WHEN t.due_at > %(now)s::timestamptz THEN 'pending'
                WHEN {SCHEMA}.u(a.id * 2 + n.pos, 62) < 0.1 THEN 'pending'
                ELSE 'done' END AS state,
           CASE WHEN {SCHEMA}.u(a.id, 61) < 0.01 THEN 'create'
                WHEN t.due_at > %(now)s::timestamptz THEN 'send'
                ELSE 'watch' END AS step,
           CASE WHEN t.due_at > %(now)s::timestamptz OR {SCHEMA}.u(a.id, 61) < 0.01 THEN 'unpaid'
                WHEN {SCHEMA}.u(a.id * 2 + n.pos, 62) < 0.1 THEN 'overdue'
                ELSE 'paid' END AS payment
) d
WHERE {SCHEMA}.u(a.id, 60) < 0.2
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
