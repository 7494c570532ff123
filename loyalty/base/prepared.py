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
import threading
import weakref
from collections.abc import Mapping

from django.db import DatabaseError


class PreparedSQL:
    """One SQL statement of the hot path, written with %(name)s parameters.

    On PostgreSQL it is PREPAREd once per database connection and then EXECUTEd, so the server
    parses and plans it once instead of on every request (planning the purchase's statement
    costs the server more than running it). A prepared statement lives as long as the
    connection (CONN_MAX_AGE) and survives rollbacks; a new connection prepares it again.
    A pooler in session mode may hand a new connection of ours a server connection that has
    the statement already: its name carries a digest of its SQL, so a statement of that name is
    this very one (not another release's) and is used as it is.

    Behind a pooler in transaction mode (DATABASE_POOL_MODE=transaction, which sets the
    database's DISABLE_SERVER_SIDE_CURSORS) each transaction may run on another server
    connection, so what one of ours prepared says nothing of the next. Outside a transaction
    the statement goes in one query with a call that prepares it where the server connection
    lacks it (the function `loyalty_prepare`, migration loyalty/0019): one query is one
    transaction, on one server connection. Inside a transaction, which keeps its server
    connection to its end, the first hot statement goes with a call that prepares every hot
    statement the server connection lacks (`loyalty_prepare_all`, loyalty/0022), and the rest of
    the transaction EXECUTEs: the database backend (loyalty.base.postgresql) counts, as
    `prepared_known`, how many of them the current transaction's server connection has.
    bench/RESULTS.md has what each buys.
    """

    # the raw connections (psycopg2) -> the names prepared on each
    _prepared: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
    # raw connections whose prepared statements outlived a change of the tables they read
    _stale: weakref.WeakSet = weakref.WeakSet()
    # every hot statement of this process, by name, in the order first made: what a
    # transaction's first one prepares behind a pooler
    _registry: dict[str, PreparedSQL] = {}
    _registry_lock = threading.Lock()
    # set when the database lacks loyalty_prepare_all (a release ahead of its migration)
    _without_prepare_all = False

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
        # (PREPARE and EXECUTE take it unquoted, the functions quote it: the same only so)
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"A prepared statement's name must be lowercase, at most 63: {name}")
        self.prepare_sql = f"PREPARE {name} {declared}"
        self.execute_sql = f"EXECUTE {name} ({', '.join(['%s'] * len(self.names))})"
        # Behind a pooler in transaction mode, one query each (sent with parameters, so a
        # literal % is doubled): prepared where missing, then run; or, after a change of the
        # tables, every statement of the server connection dropped, this one prepared and run.
        call = f"SELECT loyalty_prepare('{name}', {_literal(declared)}); "
        self.pooled_sql = call.replace("%", "%%") + self.execute_sql
        self.declared = declared
        self.afresh_sql = f"DEALLOCATE ALL; {self.prepare_sql}; ".replace("%", "%%")
        self.afresh_pooled_sql = self.afresh_sql + self.execute_sql
        with self._registry_lock:
            # (the same statement made twice, e.g. by two threads, is one)
            known = self._registry.get(name)
            self.index = known.index if known is not None else len(self._registry)
            if known is None:
                self._registry[name] = self

    def execute(self, cursor, params: Mapping[str, object]) -> None:
        db = cursor.db
        mode = prepared_mode(db)
        if mode == PLAIN:
            cursor.execute(self.sql, params)
            return
        values = [params[key] for key in self.names]
        if mode == POOLED:
            self._execute_pooled(cursor, values)
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
        try:
            cursor.execute(self.execute_sql, values)
        except DatabaseError as exc:
            # A migration changed a column a prepared statement returns: PostgreSQL refuses to
            # run any statement prepared before it ("cached plan must not change result
            # type"). Each is prepared afresh on its next use on this connection.
            if not _changed_table(exc):
                raise
            prepared.clear()
            if db.in_atomic_block:  # the transaction failed with it: the caller runs again
                self._stale.add(raw)
                raise StalePreparedStatement(self.name) from exc
            # in autocommit only this statement failed: prepare afresh and run it now
            self._prepare_afresh(cursor, prepared)
            cursor.execute(self.execute_sql, values)

    def _execute_pooled(self, cursor, values: list) -> None:
        """Behind a pooler in transaction mode: each transaction may run on another server
        connection, so the statement is prepared, where that server connection lacks it, in
        the same query that runs it (one query is one transaction, on one server connection);
        in a transaction, every hot statement with the first one (see the class)."""
        db = cursor.db
        raw = db.connection
        known = getattr(db, "prepared_known", None)  # (None: a backend that does not count)
        in_transaction = (
            known is not None and not db.get_autocommit() and not PreparedSQL._without_prepare_all
        )
        counted = None  # how many hot statements the query makes sure of
        if raw in self._stale:  # the last transaction met a changed table: start afresh
            self._stale.discard(raw)
            if in_transaction:  # (this one alone first: what fails to prepare says why)
                sql, counted = _prepare_all_sql(self.execute_sql)
                sql = self.afresh_sql + sql
            else:
                sql = self.afresh_pooled_sql
        elif in_transaction and known > self.index:
            sql = self.execute_sql
        elif in_transaction:
            sql, counted = _prepare_all_sql(self.execute_sql)
        else:
            sql = self.pooled_sql
        try:
            cursor.execute(sql, values)
        except DatabaseError as exc:
            if known is not None:  # (whatever failed, nothing is taken as known any more)
                db.prepared_known = 0
            if counted is not None and _undefined_function(exc, "loyalty_prepare_all"):
                # A release ahead of its migration (loyalty/0022): each statement on its own,
                # as before it, in this process; the caller runs again.
                PreparedSQL._without_prepare_all = True
                raise StalePreparedStatement(self.name) from exc
            # (a statement missing where one was counted: the server connection lost it, or
            # it could not be prepared with the others; prepared alone afresh, it says why)
            if sql is self.afresh_pooled_sql or not (
                _changed_table(exc) or _missing_statement(exc)
            ):
                raise
            if db.in_atomic_block or not db.get_autocommit():
                self._stale.add(raw)
                raise StalePreparedStatement(self.name) from exc
            cursor.execute(self.afresh_pooled_sql, values)
            return
        if counted is not None:
            db.prepared_known = counted

    def _prepare_afresh(self, cursor, prepared: set) -> None:
        """Drop every statement the connection prepared (all were prepared before the change)
        and prepare this one."""
        cursor.execute(f"DEALLOCATE ALL; {self.prepare_sql}")
        prepared.add(self.name)


_PREPARED_ALREADY = "SELECT 1 FROM pg_prepared_statements WHERE name = %s"

PLAIN, PER_CONNECTION, POOLED = "plain", "per connection", "pooled"


def prepared_mode(db) -> str:
    """How the hot statements run on this database connection: PLAIN SQL (not PostgreSQL, or
    the database setting PREPARED_STATEMENTS off), POOLED (behind a pooler in transaction mode,
    which sets DISABLE_SERVER_SIDE_CURSORS: settings.DATABASE_POOL_MODE) or prepared once
    PER_CONNECTION."""
    settings = db.settings_dict
    if db.vendor != "postgresql" or not settings.get("PREPARED_STATEMENTS", True):
        return PLAIN
    return POOLED if settings.get("DISABLE_SERVER_SIDE_CURSORS") else PER_CONNECTION


def _prepare_all_sql(then: str) -> tuple[str, int]:
    """`then` after a call that prepares every hot statement the server connection lacks, and
    how many hot statements that covers."""
    registered = list(PreparedSQL._registry.values())
    count = len(registered)
    call = _prepare_all_calls.get(count)
    if call is None:
        names = ", ".join(_literal(each.name) for each in registered)
        bodies = ", ".join(_literal(each.declared) for each in registered)
        call = f"SELECT loyalty_prepare_all(ARRAY[{names}], ARRAY[{bodies}]); ".replace("%", "%%")
        _prepare_all_calls[count] = call
    return call + then, count


# the call for the first n registered statements, by n (the registry only grows)
_prepare_all_calls: dict[int, str] = {}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _changed_table(exc: DatabaseError) -> bool:
    """PostgreSQL's "cached plan must not change result type" (feature_not_supported)."""
    return getattr(exc.__cause__, "pgcode", None) == "0A000"


def _undefined_function(exc: DatabaseError, name: str) -> bool:
    """PostgreSQL's "function ... does not exist" (undefined_function), for that function."""
    return getattr(exc.__cause__, "pgcode", None) == "42883" and f"{name}(" in str(exc)


def _missing_statement(exc: DatabaseError) -> bool:
    """PostgreSQL's "prepared statement ... does not exist" (invalid_sql_statement_name)."""
    return getattr(exc.__cause__, "pgcode", None) == "26000"


class StalePreparedStatement(DatabaseError):
    """A prepared statement met a changed table, or was missing where it was counted (behind a
    pooler), and failed, and its transaction with it; the next use prepares the connection's
    statements afresh, so the work can simply run again (loyalty.core.api.idempotency.
    IdempotentRun does, once). A statement that cannot be prepared at all then raises why."""
