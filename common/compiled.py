"""Reads whose SQL the ORM builds once per process, then runs again with other ids.

Building a query's SQL (resolving names, joins, columns, quoting each one) costs the ORM more
CPU than PostgreSQL spends answering a primary-key read. A hot read whose shape never changes
(only the ids in it do) can keep what the ORM built the first time. ``CompiledRead`` builds
its queryset once with placeholder ids, keeps the SQL and the compiler, and on each call sends
that SQL with the real ids and converts the rows exactly as the queryset itself would have
(``results_iter``: the same database converters, e.g. decimals and booleans on SQLite).

Only integer parameters (ids) are placeholders; every other value of the query (a status, a
constant) is kept as the ORM bound it. The queryset must be a ``values_list()``.
"""

import weakref
from collections.abc import Callable

from django.db import connections
from django.db.models import QuerySet

# Distinct negative numbers no id ever takes: each marks where one named id goes.
_PLACEHOLDER = -7_318_004_211_000


class CompiledRead:
    """``read = CompiledRead(lambda pk: Model.objects.filter(pk=pk).values_list(...), "pk")``;
    ``read.rows(pk=42)`` is ``list(that queryset with pk=42)``, without building it again."""

    def __init__(self, build: Callable[..., QuerySet], *names: str, using: str = "default"):
        self._build = build
        self._names = names
        self._using = using
        # One compiler per database connection (one per thread): it is bound to it.
        self._compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def _compile(self, connection):
        marks = {_PLACEHOLDER - n: name for n, name in enumerate(self._names)}
        queryset = self._build(**{name: value for value, name in marks.items()})
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        slots = [(marks.get(p) if isinstance(p, int) else None, p) for p in params]
        missing = set(self._names) - {name for name, _ in slots if name}
        if missing:
            raise ValueError(f"The query does not use {sorted(missing)}")
        compiled = self._compiled[connection] = (sql, slots, compiler)
        return compiled

    def rows(self, **ids: int) -> list[tuple]:
        connection = connections[self._using]
        sql, slots, compiler = self._compiled.get(connection) or self._compile(connection)
        params = [ids[name] if name else value for name, value in slots]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        return list(compiler.results_iter(results=[fetched], tuple_expected=True))
