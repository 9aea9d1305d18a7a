# SQL is assembled from this module's constants only (no input reaches it).
# ruff: noqa: S608
"""The phases written in Python: saving and rebuilding indexes, reminder due times, id
sequences, the benchmark's logins and the closing VACUUM/ANALYZE."""

from console.seeding.schema import BENCH_ADMIN_EMAIL, BENCH_PASSWORD, SCHEMA, SEEDED_TABLES
from console.seeding.session import in_threads

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
    "integrations_wixinvoice",
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
