"""One-statement writes the webhook path needs: insert a row unless it conflicts."""

from django.db import connection, models
from django.db.models.fields import Field


def column_of(field: Field | None) -> str:
    """A concrete field's column (the stubs allow None: only a non-concrete field has none)."""
    assert field is not None and field.column is not None
    return field.column


def insert_once(obj: models.Model) -> bool:
    """INSERT ``obj`` unless a unique constraint already holds its values; True if inserted.

    ``INSERT … ON CONFLICT DO NOTHING RETURNING id`` (PostgreSQL and SQLite alike): one
    statement where ``get_or_create`` takes four (SELECT, SAVEPOINT, INSERT, RELEASE), and
    a concurrent twin waits on the index instead of failing. Sets ``obj.pk`` when inserted.
    """
    meta = obj._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column_of(f)) for f in fields)
    params = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields]
    sql = " ".join(
        [
            f"INSERT INTO {quote(meta.db_table)} ({columns})",
            f"VALUES ({', '.join(['%s'] * len(fields))})",
            f"ON CONFLICT DO NOTHING RETURNING {quote(column_of(meta.pk))}",
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = row[0]
    obj._state.adding = False
    obj._state.db = connection.alias
    return True
