"""Django's PostgreSQL backend, with a cheaper check of a kept connection (CONN_HEALTH_CHECKS),
and a count of the hot statements a transaction's server connection has (prepared_known, for
loyalty.base.prepared behind a pooler).

Django checks a kept connection before the first query of each request with `SELECT 1`: a round
trip (through PgBouncer a transaction lent a server connection) on every request, to catch a
connection the server or the pooler has closed since the last one. A closed connection shows
without asking: when PostgreSQL or PgBouncer ends a connection (a restart, an idle timeout, a
terminated backend) it sends its goodbye and closes the socket, so the socket of an idle
connection becomes readable. Between requests nothing else arrives on it (the program does not
LISTEN on web connections), so a connection that is idle, not in a transaction, with nothing to
read is taken as usable; anything else gets Django's own check. What this cannot see is a
server gone without a word (a host crash, a cut cable, a NAT's idle timeout): Django's query
would find out (at once where a reset answers it) and connect again, while here the request's
own query fails, once (the connection is then closed, as after any error). CONN_MAX_AGE (60 s in
the compose stack) bounds how old a kept connection gets, and so the chance of that.
"""

import select

from django.db.backends.postgresql import base

try:
    from psycopg2.extensions import TRANSACTION_STATUS_IDLE
except ImportError:  # pragma: no cover - the project uses psycopg2
    TRANSACTION_STATUS_IDLE = None


class DatabaseWrapper(base.DatabaseWrapper):
    # How many of the hot statements (loyalty.base.prepared) the current transaction's server
    # connection is known to have, behind a pooler in transaction mode: each transaction may
    # run on another one, so the count starts again with every transaction.
    prepared_known = 0

    def connect(self):
        self.prepared_known = 0
        super().connect()

    def _set_autocommit(self, autocommit):
        self.prepared_known = 0
        super()._set_autocommit(autocommit)

    def _commit(self):
        self.prepared_known = 0
        super()._commit()

    def _rollback(self):
        self.prepared_known = 0
        super()._rollback()

    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and quiet_and_idle(self.connection)
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()


def quiet_and_idle(raw) -> bool:
    """Whether a psycopg2 connection is open, outside any transaction, with nothing on its
    socket to read (no goodbye from the server): then it is usable without asking."""
    try:
        if raw.closed or raw.info.transaction_status != TRANSACTION_STATUS_IDLE:
            return False
        socket = select.poll()  # (not select.select: it fails on descriptors past 1024)
        socket.register(raw.fileno(), select.POLLIN)
        return not socket.poll(0)
    except (OSError, ValueError, AttributeError):
        return False
