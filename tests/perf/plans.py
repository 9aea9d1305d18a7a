"""Query-plan harness: record what a door or job sends to PostgreSQL, EXPLAIN it, judge the plan.

Issue 10, point 4. Every statement is EXPLAINed (never ANALYZEd: nothing runs) with
``SET LOCAL enable_seqscan = off`` (and no hash or merge joins, see PLANNER_SETTINGS) inside a
savepoint that is rolled back. Under that setting the planner uses any index that can serve a
query, so what is left is a query no index serves:

- a ``Seq Scan`` on a guarded table (business-owned, big, or a queue/outbox/log table);
- a full index scan of a guarded table: an Index (Only) Scan with no ``Index Cond`` on a
  non-partial index that no LIMIT bounds, or such a Bitmap Index Scan. Turning seq scans off
  makes the planner read a whole index instead of the table whenever an index offers an order
  or an index-only scan (``COUNT(*)`` of a changelist, a join's outer side): still every row,
  so it counts as a scan just the same;
- ``OFFSET n`` with n above ``MAX_OFFSET`` (deep pages must be keyset pages or bounded).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import DatabaseError, connection, transaction

MAX_OFFSET = 1000

ROOT = Path(__file__).resolve().parents[2]


def project_apps() -> list:
    """The project's own apps (in the repository, not installed packages): a new one counts."""
    return [
        config
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(ROOT)
        and ".venv" not in Path(config.path).resolve().relative_to(ROOT).parts
    ]


# Project tables without a business FK that are big in production or are a queue / log.
BIG_MODELS = (
    "accounts.User",  # 130K+ users: support search and logins look them up
    "proposals.Section",  # per proposal (2.1M proposals)
    "proposals.LineItem",  # per section
    "proposals.DeliveryAttempt",  # per delivery (2.7M deliveries)
    "proposals.DeliveryEvent",  # per delivery, from the email service's webhooks
    "proposals.Suppression",  # bounced or complained addresses, across every business
    "integrations.WebhookReceipt",  # log + queue (business FK is nullable, it is still one)
    "integrations.WixAccessToken",  # one row per app instance: 130K
    "integrations.WixUserLink",  # one row per Wix user who opened the dashboard
)

# django-q2's queue and results: /readyz and /metrics read them on every call.
QUEUE_TABLES = ("django_q_ormq", "django_q_task")

# Tables a scan may read whole, each with the reason. Anything else of the project is guarded
# (a new model is guarded until someone argues it in here).
ALLOWED_TABLES = {
    # Config: a few dozen rows, written by migrations only.
    "django_content_type": "one row per model",
    "auth_permission": "four rows per model",
    "auth_group": "a handful of support roles",
    "auth_group_permissions": "permissions of those few roles",
    "django_migrations": "one row per migration; /readyz reads it whole by design",
    "django_q_schedule": "one row per scheduled job",
    # Staff only: rows exist for support staff, not for the 130K business users.
    "accounts_user_groups": "group memberships of support staff",
    "accounts_user_user_permissions": "direct permissions of staff (normally none)",
    # Sessions are read by primary key (session_key); expiry cleanup is not a door.
    "django_session": "read by primary key",
    "django_admin_log": "admin's own log, read by user_id index (bounded by staff count)",
    # One row per Wix API (oauth, apps, contacts, …): under ten, ever.
    "integrations_circuitbreaker": "one row per Wix API",
    "django_cache": "dbcache of development only (tests and production use another cache)",
}


# enable_seqscan = off is the rule (issue 10). Hash and merge joins are turned off too, for the
# same reason: a small test database makes the planner join a few rows by reading a whole index
# (a merge join against the primary key) where production's size makes it look rows up by
# index. With them off the planner looks rows up whenever an index can serve the join, so what
# remains is what no index serves, whatever the size of the test data.
PLANNER_SETTINGS = ("enable_seqscan", "enable_hashjoin", "enable_mergejoin")
# Not a plan choice: only keeps "JIT: …" lines out of the plans a failure prints.
QUIET_SETTINGS = ("jit",)


def _has_business_fk(model) -> bool:
    return any(
        (f.many_to_one or f.one_to_one)
        and f.related_model is not None
        and f.related_model._meta.label == "accounts.Business"
        for f in model._meta.concrete_fields
        if f.is_relation
    )


def project_tables() -> set[str]:
    """Every table the project's apps define (auto-created M2M tables included)."""
    tables: set[str] = set()
    for config in project_apps():
        for model in config.get_models(include_auto_created=True):
            if model._meta.managed and not model._meta.proxy:
                tables.add(model._meta.db_table)
    return tables


def guarded_tables() -> dict[str, str]:
    """Table → why a scan of it fails: business-owned, big, or a queue/outbox/log table."""
    guarded: dict[str, str] = {}
    for config in project_apps():
        for model in config.get_models():
            if model._meta.proxy or not model._meta.managed:
                continue
            if model._meta.label == "accounts.Business":
                guarded[model._meta.db_table] = "businesses (130K)"
            elif _has_business_fk(model):
                guarded[model._meta.db_table] = "business-owned"
    for label in BIG_MODELS:
        guarded[apps.get_model(label)._meta.db_table] = "big or queue table"
    for table in QUEUE_TABLES:
        guarded[table] = "task queue"
    return guarded


@dataclass
class Statement:
    sql: str
    # As the cursor got them: a sequence or mapping (or None), for executemany an iterable of them.
    params: Any
    many: bool = False


@dataclass
class Finding:
    door: str
    kind: str  # "seq scan" | "full index scan" | "offset" | "not explainable"
    relation: str
    sql: str
    plan: str

    def render(self) -> str:
        return (
            f"[{self.door}] {self.kind} on {self.relation}\n"
            f"  SQL: {self.sql}\n"
            f"  plan:\n{_indent(self.plan, '    ')}"
        )


@dataclass
class Recorder:
    statements: list[Statement] = field(default_factory=list)
    enabled: bool = True

    def __call__(self, execute, sql, params, many, context):
        if self.enabled:
            self.statements.append(Statement(sql, params, many))
        return execute(sql, params, many, context)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Requests a door makes to find its way (not the door itself) are not recorded."""
        self.enabled = False
        try:
            yield
        finally:
            self.enabled = True


@contextmanager
def recording() -> Iterator[Recorder]:
    """Record every statement (sql and params, exactly as sent) issued inside the block."""
    recorder = Recorder()
    with connection.execute_wrapper(recorder):
        yield recorder


_EXPLAINABLE = re.compile(r"^\s*\(?\s*(SELECT|UPDATE|DELETE|INSERT|WITH)\b", re.IGNORECASE)
_OFFSET = re.compile(r"\bOFFSET\s+(\d+)", re.IGNORECASE)


def explainable(sql: str) -> bool:
    return bool(_EXPLAINABLE.match(sql))


class _RollBack(Exception):
    pass


def _params_of(statement: Statement):
    if statement.many:
        params = list(statement.params or [])
        return params[0] if params else None
    return statement.params


def inline(cursor, sql: str, params) -> str:
    """The statement with its parameters inlined, as psql would take it."""
    if params is None:
        return sql
    try:
        return cursor.cursor.mogrify(sql, params)
    except Exception:  # display only: never hide the finding behind a formatting error
        return f"{sql}  -- params: {params!r}"


def _partial_indexes(cursor) -> set[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indpred IS NOT NULL"
    )
    return {row[0] for row in cursor.fetchall()}


# Nodes that read all of their input before giving out a first row: a LIMIT above them does
# not bound what is scanned below them.
_BLOCKING = {"Sort", "Hash", "Materialize", "SetOp", "WindowAgg", "Incremental Sort"}


def _blocks(node: dict) -> bool:
    if node.get("Node Type") in _BLOCKING:
        return node.get("Node Type") != "Incremental Sort"
    if node.get("Node Type") == "Aggregate":
        return node.get("Strategy") in ("Plain", "Hashed", "Mixed")
    return False


def scans(
    plan: dict, *, partial: set[str], bounded: bool = False, relation: str | None = None
) -> Iterator[tuple[str, str, dict]]:
    """(kind, relation, node) for every scan in the tree that reads a whole relation."""
    node_type = plan.get("Node Type")
    if plan.get("Parent Relationship") in ("InitPlan", "SubPlan"):
        bounded = False
    if node_type == "Limit":
        bounded = True
    elif _blocks(plan):
        bounded = False
    relation = plan.get("Relation Name", relation)
    whole_index = "Index Cond" not in plan and plan.get("Index Name") not in partial
    if node_type == "Seq Scan":
        yield "seq scan", relation or "?", plan
    elif node_type in ("Index Scan", "Index Only Scan") and whole_index and not bounded:
        yield "full index scan", relation or "?", plan
    elif node_type == "Bitmap Index Scan" and whole_index:
        # A bitmap is built from the whole index before the first row: a LIMIT cannot bound it.
        yield "full index scan", relation or "?", plan
    for child in plan.get("Plans", []):
        yield from scans(child, partial=partial, bounded=bounded, relation=relation)


def _explain(cursor, sql: str, params, options: str = "") -> list:
    prefix = f"EXPLAIN {options} " if options else "EXPLAIN "
    if params is None:
        cursor.execute(prefix + sql)
    else:
        cursor.execute(prefix + sql, params)
    return cursor.fetchall()


class _Unexplainable(Exception):
    pass


def _judge(cursor, door, sql, params, *, guarded, partial) -> list[Finding]:
    findings = []
    shown = None

    def finding(kind: str, relation: str) -> Finding:
        nonlocal shown
        if shown is None:
            shown = "\n".join(row[0] for row in _explain(cursor, sql, params))
        return Finding(door, kind, relation, inline(cursor, sql, params), shown)

    for match in _OFFSET.finditer(sql):
        if int(match.group(1)) > MAX_OFFSET:
            findings.append(finding(f"OFFSET {match.group(1)} (> {MAX_OFFSET})", "-"))
    raw = _explain(cursor, sql, params, "(FORMAT JSON)")[0][0]
    tree = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    for kind, relation, _node in scans(tree, partial=partial):
        if relation in guarded:
            findings.append(finding(kind, f"{relation} ({guarded[relation]})"))
    return findings


def check(door: str, statements: list[Statement]) -> list[Finding]:
    """Every problem in the plans of ``statements``; EXPLAINs run in a rolled-back savepoint.

    One savepoint for all of them, not one each: thousands of subtransactions in the test's
    long transaction would slow every later statement (PostgreSQL's subxid cache overflows).
    A statement EXPLAIN refuses aborts that savepoint; it is recorded and the rest go on in a
    fresh one.
    """
    guarded = guarded_tables()
    findings: list[Finding] = []
    pending: list[tuple[str, object]] = []
    seen: set[tuple[str, str]] = set()
    for statement in statements:
        params = _params_of(statement)
        key = (statement.sql, repr(params))
        if explainable(statement.sql) and key not in seen:
            seen.add(key)
            pending.append((statement.sql, params))
    while pending:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                for setting in PLANNER_SETTINGS + QUIET_SETTINGS:
                    cursor.execute(f"SET LOCAL {setting} = off")
                partial = _partial_indexes(cursor)
                while pending:
                    sql, params = pending.pop(0)
                    try:
                        findings += _judge(
                            cursor, door, sql, params, guarded=guarded, partial=partial
                        )
                    except DatabaseError as exc:
                        findings.append(
                            Finding(
                                door, "not explainable", "-", inline(cursor, sql, params), str(exc)
                            )
                        )
                        raise _Unexplainable from exc
                raise _RollBack
        except (_RollBack, _Unexplainable):
            pass
    return findings


def explained_count(statements: list[Statement]) -> int:
    return len({(s.sql, repr(_params_of(s))) for s in statements if explainable(s.sql)})


def report(findings: list[Finding]) -> str:
    return "\n\n".join(f.render() for f in findings)


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())
