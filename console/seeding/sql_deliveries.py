# SQL is assembled from this module's constants only (no input reaches it); some SQL lines
# (user agents, nested CASEs) read better unbroken.
# ruff: noqa: S608, E501
"""The emails the product would have recorded (deliveries and their attempts) and the activity
timeline of each proposal."""

from console.seeding.schema import SCHEMA

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
