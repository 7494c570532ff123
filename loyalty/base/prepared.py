"""Prepared statements: the hot path's SQL parsed and planned once per database connection.

Why they pay: planning the purchase's one statement costs PostgreSQL more than running it, and
the partner API runs the same few statements on every request (bench/RESULTS.md has the
measurement, with and without them). Only the statements run on every request are prepared:
the purchase's member lookup and its insert-and-credit, the tier points count, and the
idempotency key's claim and store. Everything else goes through the ORM as usual.
"""

from __future__ import annotations

import hashlib
import re
import weakref
from collections.abc import Mapping

from django.db import DatabaseError


class PreparedSQL:
    """One SQL statement of the hot path, written with %(name)s parameters.

    On PostgreSQL it is PREPAREd once per database connection and then EXECUTEd, so the server
    parses and plans it once instead of on every request (planning the purchase's statement
    costs the server more than running it). A prepared statement lives as long as the
    connection (CONN_MAX_AGE) and survives rollbacks; a new connection prepares it again.
    Where a pooler in transaction mode sits between Django and PostgreSQL, a statement prepared
    on one server connection is not there on the next: such set-ups say so with the database
    setting DISABLE_SERVER_SIDE_CURSORS (which they need anyway), and then, as on other
    databases, the statement runs as plain SQL. A pooler in session mode may hand a new
    connection of ours a server connection that has the statement already: its name carries a
    digest of its SQL, so a statement of that name is this very one (not another release's) and
    is used as it is.
    """

    # the raw connections (psycopg2) -> the names prepared on each
    _prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
    # raw connections whose prepared statements outlived a change of the tables they read
    _stale: weakref.WeakSet = weakref.WeakSet()

    def __init__(self, name: str, sql: str, types: Mapping[str, str]):
        self.sql = sql.strip()
        self.names: list[str] = []

        def number(match: re.Match) -> str:
            if match[1] not in self.names:
                self.names.append(match[1])
            return f"${self.names.index(match[1]) + 1}"

        numbered = re.sub(r"%\((\w+)\)s", number, self.sql)
        declared = f"({', '.join(types[key] for key in self.names)}) AS {numbered}"
        # the digest covers the parameters' types too: another release's statement of the same
        # SQL with other types has another name
        self.name = name = f"{name}_{hashlib.sha256(declared.encode()).hexdigest()[:12]}"
        self.prepare_sql = f"PREPARE {name} {declared}"
        self.execute_sql = f"EXECUTE {name} ({', '.join(['%s'] * len(self.names))})"

    def execute(self, cursor, params: Mapping[str, object]) -> None:
        db = cursor.db
        if db.vendor != "postgresql" or db.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS"):
            cursor.execute(self.sql, params)
            return
        raw = db.connection
        prepared = self._prepared.setdefault(raw, set())
        if self.name not in prepared:
            if raw in self._stale:
                self._stale.discard(raw)
                self._prepare_afresh(cursor, prepared)
            else:
                cursor.execute(_PREPARED_ALREADY, [self.name])
                if cursor.fetchone() is None:
                    cursor.execute(self.prepare_sql)
                prepared.add(self.name)
        values = [params[key] for key in self.names]
        try:
            cursor.execute(self.execute_sql, values)
        except DatabaseError as exc:
            # A migration changed a column a prepared statement returns: PostgreSQL refuses to
            # run any statement prepared before it ("cached plan must not change result
            # type"). Each is prepared afresh on its next use on this connection.
            if getattr(exc.__cause__, "pgcode", None) != "0A000":
                raise
            prepared.clear()
            if db.in_atomic_block:  # the transaction failed with it: the caller runs again
                self._stale.add(raw)
                raise StalePreparedStatement(self.name) from exc
            # in autocommit only this statement failed: prepare afresh and run it now
            self._prepare_afresh(cursor, prepared)
            cursor.execute(self.execute_sql, values)

    def _prepare_afresh(self, cursor, prepared: set) -> None:
        """Drop every statement the connection prepared (all were prepared before the change)
        and prepare this one."""
        cursor.execute(f"DEALLOCATE ALL; {self.prepare_sql}")
        prepared.add(self.name)


_PREPARED_ALREADY = "SELECT 1 FROM pg_prepared_statements WHERE name = %s"


class StalePreparedStatement(DatabaseError):
    """A prepared statement met a changed table and failed, and its transaction with it; the
    next use prepares the connection's statements afresh, so the work can simply run again
    (loyalty.core.api.idempotency.IdempotentRun does, once)."""
