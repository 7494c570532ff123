"""A PgBouncer of our own (Debian's package), in transaction mode on a free 127.0.0.1 port, in
front of a PostgreSQL server: the tests' (tests/conftest.py, LOYALTY_TEST_PGBOUNCER) and the
bench's (bench/api_earn.py --pgbouncer). It is started and stopped by whoever needs it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path


def through_pgbouncer() -> bool:
    """Whether this test run goes through a PgBouncer (LOYALTY_TEST_PGBOUNCER=1)."""
    return os.environ.get("LOYALTY_TEST_PGBOUNCER", "").lower() in {"1", "true", "yes"}


def pgbouncer_path() -> str | None:
    """Debian installs it in /usr/sbin, which a user's PATH may lack."""
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/sbin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Bouncer:
    """pgbouncer with `pool_mode = transaction` for every database of the server at
    `host:port` (`*`: the tests' test_<name> database too). Clients are trusted (it listens on
    127.0.0.1 only); it logs in to PostgreSQL as they do, with `password` if one is needed.
    `pool_size` server connections at most per database and user."""

    def __init__(
        self, folder: Path, *, host: str, port: int, user: str, password: str = "", pool_size=20
    ):
        self.folder = Path(folder)
        self.server = (host, port)
        self.user = user
        self.password = password
        self.pool_size = pool_size
        self.port = 0
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 15) -> Bouncer:
        binary = pgbouncer_path()
        if binary is None:
            raise FileNotFoundError("pgbouncer is not installed (Debian package pgbouncer)")
        self.port = free_port()
        self.folder.mkdir(parents=True, exist_ok=True)
        users = self.folder / "users.txt"
        users.write_text(f'"{self.user}" "{self.password}"\n')
        config = self.folder / "pgbouncer.ini"
        host, port = self.server
        config.write_text(
            "[databases]\n"
            f"* = host={host} port={port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {users}\n"
            f"admin_users = {self.user}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            "max_client_conn = 500\n"
            "ignore_startup_parameters = extra_float_digits\n"
        )
        command = [binary, str(config)]
        if os.geteuid() == 0:  # pgbouncer refuses to run as root
            command[1:1] = ["-u", "nobody"]
            for path in (self.folder, users, config):
                path.chmod(0o755 if path.is_dir() else 0o644)
        self.log = self.folder / "pgbouncer.log"
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer stopped at start:\n{self.log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"pgbouncer did not listen in {timeout} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def console(self, command: str) -> list[dict]:
        """A command of pgbouncer's console (SHOW SERVERS, RECONNECT, ...): its rows, if any, as
        named values."""
        import psycopg2

        console = psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname="pgbouncer"
        )
        console.autocommit = True
        try:
            with console.cursor() as cursor:
                cursor.execute(command)
                if cursor.description is None:
                    return []
                names = [column.name for column in cursor.description]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            console.close()
