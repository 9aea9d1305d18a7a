"""Claim due rows in batches with a lease; give rows back; take back rows whose lease ran out.

PostgreSQL claims a batch in ONE statement::

    UPDATE t SET state = working, claimed_until = now + lease
      FROM (SELECT id, state FROM t WHERE state IN (due…) AND next_attempt_at <= now
            ORDER BY next_attempt_at, id LIMIT n FOR UPDATE SKIP LOCKED) AS c
     WHERE t.id = c.id RETURNING t.id, c.state

so two drains never take the same row and neither waits for the other. Elsewhere (SQLite in
development) the same interface claims row by row with a conditional UPDATE whose row count
says who won. Both are served by the kind's partial index on due rows (``due_index``).
"""

from datetime import datetime

from django.db import connections, router, transaction
from django.db.models import Case, Q, Value, When
from django.utils import timezone

from common.outbox.kinds import Kind, get_kind

PREVIOUS_STATE = "_outbox_previous_state"


def _touch(model, now: datetime) -> dict:
    return {"updated_at": now} if any(f.name == "updated_at" for f in model._meta.fields) else {}


def _due(kind: Kind, *, now: datetime, ids=None):
    rows = kind.model_class._default_manager.filter(
        **{f"{kind.state_field}__in": kind.due_states}, next_attempt_at__lte=now
    )
    return rows.filter(pk__in=ids) if ids is not None else rows


def claim(kind: "str | Kind", *, limit: int, now: datetime | None = None, ids=None) -> list:
    """Take up to ``limit`` due rows (only among ``ids`` if given) for this worker.

    Returns the rows (with the kind's ``select_related``), in due order, each carrying the
    state it had before the claim (``previous_state(row)``). Two queries on PostgreSQL: the
    claim and the load.
    """
    kind = get_kind(kind)
    now = now or timezone.now()
    model = kind.model_class
    using = router.db_for_write(model)
    if connections[using].vendor == "postgresql":
        claimed = _claim_postgresql(kind, limit=limit, now=now, ids=ids, using=using)
    else:
        claimed = claim_fallback(kind, limit=limit, now=now, ids=ids, using=using)
    if not claimed:
        return []
    rows = list(
        model._default_manager.using(using)
        .select_related(*kind.select_related)
        .filter(pk__in=list(claimed))
        .order_by("next_attempt_at", "pk")
    )
    for row in rows:
        setattr(row, PREVIOUS_STATE, claimed[row.pk])
    return rows


def previous_state(row) -> str:
    return getattr(row, PREVIOUS_STATE)


def _claim_postgresql(kind: Kind, *, limit: int, now: datetime, ids, using: str) -> dict:
    model = kind.model_class
    candidates = _due(kind, now=now, ids=ids).using(using).order_by("next_attempt_at", "pk")
    candidates = candidates.select_for_update(skip_locked=True).values("pk", kind.state_field)
    connection = connections[using]
    with transaction.atomic(using=using, savepoint=False):
        # Compiled inside a transaction: Django refuses FOR UPDATE under autocommit.
        inner_sql, inner_params = candidates[:limit].query.get_compiler(using).as_sql()
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    state = quote(model._meta.get_field(kind.state_field).column)
    pk = quote(model._meta.pk.column)
    sets = [f"{state} = %s", f"{quote('claimed_until')} = %s"]
    params: list = [kind.working_state, now + kind.lease()]
    if _touch(model, now):
        sets.append(f"{quote('updated_at')} = %s")
        params.append(now)
    # Only identifiers from the model's meta and Django's compiled SQL; values are parameters.
    sql = " ".join(
        [
            f"UPDATE {table} AS t SET {', '.join(sets)}",  # noqa: S608
            f"FROM ({inner_sql}) AS c WHERE t.{pk} = c.{quote('pk')}",
            f"RETURNING t.{pk}, c.{quote(kind.state_field)}",
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *inner_params])
        return dict(cursor.fetchall())


def claim_fallback(
    kind: "str | Kind", *, limit: int, now: datetime, ids=None, using: str = "default"
) -> dict:
    """Claim without SKIP LOCKED: read candidates, then one conditional UPDATE per row.

    A row whose state or due time changed since it was read (another worker claimed it) is
    not updated, and the row count says so. Returns ``{pk: state before the claim}``.
    """
    kind = get_kind(kind)
    model = kind.model_class
    candidates = list(
        _due(kind, now=now, ids=ids)
        .using(using)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", kind.state_field)[:limit]
    )
    won = {}
    for pk, state in candidates:
        updated = (
            model._default_manager.using(using)
            .filter(pk=pk, **{kind.state_field: state}, next_attempt_at__lte=now)
            .update(
                **{kind.state_field: kind.working_state},
                claimed_until=now + kind.lease(),
                **_touch(model, now),
            )
        )
        if updated == 1:
            won[pk] = state
    return won


def release(
    kind: "str | Kind",
    rows: list,
    *,
    at: "datetime | dict[int, datetime] | None" = None,
    now: datetime | None = None,
) -> int:
    """Give claimed rows back, due at ``at`` (one time, or one per pk; default now), each in
    the state it had before the claim, without counting an attempt. One UPDATE.
    """
    if not rows:
        return 0
    kind = get_kind(kind)
    now = now or timezone.now()
    model = kind.model_class
    times = at if isinstance(at, dict) else {row.pk: at or now for row in rows}
    states = {row.pk: getattr(row, PREVIOUS_STATE, kind.due_states[0]) for row in rows}
    pks = [row.pk for row in rows]
    return model._default_manager.filter(
        pk__in=pks, **{kind.state_field: kind.working_state}
    ).update(
        **{
            kind.state_field: _case(states, kind.due_states[0]),
            "next_attempt_at": _case(times, now),
            "claimed_until": None,
        },
        **_touch(model, now),
    )


def _case(values: dict, default):
    distinct = set(values.values())
    if len(distinct) == 1:
        return Value(distinct.pop())
    return Case(*(When(pk=pk, then=Value(v)) for pk, v in values.items()), default=Value(default))


def retry_now(kind: "str | Kind", pk: int, *, from_states, now: datetime | None = None) -> bool:
    """Support's "try again": the row due now with a fresh count of attempts (its age limit
    counting from now, through ``retried_at``), only while it is still in ``from_states`` — two
    clicks, or a worker finishing meanwhile, retry it once. The caller requests the drain on
    commit. Returns whether the row was taken."""
    kind = get_kind(kind)
    now = now or timezone.now()
    model = kind.model_class
    return bool(
        model._default_manager.filter(
            pk=pk, **{f"{kind.state_field}__in": list(from_states)}
        ).update(
            **{kind.state_field: kind.due_states[0]},
            next_attempt_at=now,
            retried_at=now,
            claimed_until=None,
            attempt_count=0,
            last_error="",
            **_touch(model, now),
        )
    )


def pull_forward(kind: "str | Kind", *, limit: int, now: datetime | None = None) -> int:
    """Make up to ``limit`` rows waiting out a retry backoff due now, soonest first (rows
    never tried, such as those deferred by a rate limit, keep their time). Returns how many.
    """
    kind = get_kind(kind)
    now = now or timezone.now()
    model = kind.model_class
    waiting = {f"{kind.state_field}__in": kind.due_states, "next_attempt_at__gt": now}
    soonest = (
        model._default_manager.filter(**waiting, attempt_count__gt=0)
        .order_by("next_attempt_at", "pk")
        .values("pk")[:limit]
    )
    # The state and time are checked again on the row itself: one claimed meanwhile is left.
    return model._default_manager.filter(pk__in=soonest, **waiting).update(
        next_attempt_at=now, **_touch(model, now)
    )


def expire_leases(kind: "str | Kind", *, now: datetime | None = None) -> list[int]:
    """Rows whose worker died (lease ran out): due again now, in the kind's ``return_state``.

    Bounded (``SWEEP_BATCH_SIZE``) and safe to run concurrently (SKIP LOCKED); the kind's
    ``on_lease_expired`` hook runs in the same transaction. Returns the ids taken back.
    """
    kind = get_kind(kind)
    now = now or timezone.now()
    model = kind.model_class
    with transaction.atomic(using=router.db_for_write(model)):
        expired = list(
            model._default_manager.select_for_update(skip_locked=True)
            .filter(**{kind.state_field: kind.working_state}, claimed_until__lt=now)
            .order_by("claimed_until", "pk")
            .values_list("pk", flat=True)[: kind.setting("SWEEP_BATCH_SIZE")]
        )
        if not expired:
            return []
        # The rows are locked: a worker finishing right now waits, then finds the row due.
        model._default_manager.filter(
            Q(pk__in=expired), **{kind.state_field: kind.working_state}
        ).update(
            **{kind.state_field: kind.return_state},
            claimed_until=None,
            next_attempt_at=now,
            last_error=kind.lease_error,
            **_touch(model, now),
        )
        hook = kind.lease_expired_function
        if hook is not None:
            hook(expired, now=now)
    return expired
