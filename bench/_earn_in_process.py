"""api_earn's measurements in its own process: the SQL of one purchase, its Python and
PostgreSQL CPU (purchases posted one at a time through loyalty.wsgi), and a cProfile of 200.
Django is set up by api_earn (setup_django) before any of these runs."""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import secrets
import sys
import time
from collections import Counter

from _earn_load import PURCHASE_PATH, purchase_body
from _shared import process_cpu


def entry_tier_member(numbers: list[str]) -> str:
    """A member of the lowest tier, to count the statements of a typical purchase: members in
    the top tier skip the tier-upgrade query, and reused members climb the tiers run after run."""
    from django.db.models import F

    from accounts.models import Member

    return (
        Member.objects.filter(member_number__in=numbers)
        .order_by(F("tier__rank").asc(nulls_first=True), "points_balance", "pk")
        .values_list("member_number", flat=True)
        .first()
    )


def count_queries(api_key: str, member_number: str) -> dict:
    """The SQL of one purchase, in process, with the server's settings."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    external_id = f"q-{secrets.token_hex(6)}"
    # the first request warms caches (URL resolver, content types); count the second
    for attempt in range(2):
        with CaptureQueriesContext(connection) as captured:
            response = client.post(
                PURCHASE_PATH,
                purchase_body(member_number, f"{external_id}-{attempt}"),
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY=f"{external_id}-{attempt}",
            )
    if response.status_code != 201:
        raise SystemExit(
            f"A purchase in process answered {response.status_code}: {response.content!r}"
        )
    statements = [query["sql"] for query in captured.captured_queries]
    kinds = Counter(_statement_kind(sql) for sql in statements)
    return {"total": len(statements), "kinds": dict(kinds), "statements": statements}


def _statement_kind(sql: str) -> str:
    words = sql.split(None, 2)
    head = words[0].upper() if words else "?"
    if head in {"SAVEPOINT", "RELEASE", "ROLLBACK"}:
        return "savepoint"
    if head == "SELECT" and "FOR UPDATE" in sql.upper():
        return "select for update"
    if head == "EXECUTE" or sql.startswith("SELECT loyalty_prepare"):  # (_all too)
        return "execute (prepared)"  # prepared statements (loyalty.base.prepared)
    if head == "WITH":
        return "with (writes)"
    return head.lower()


def profile_in_process(api_key: str, numbers: list[str], requests: int = 200) -> None:
    import cProfile
    import pstats

    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    run = secrets.token_hex(4)

    def post_many():
        for i in range(requests):
            client.post(
                PURCHASE_PATH,
                purchase_body(numbers[i % len(numbers)], f"p-{run}-{i}"),
                content_type="application/json",
                HTTP_IDEMPOTENCY_KEY=f"p-{run}-{i}",
            )

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.runcall(post_many)
    elapsed = time.perf_counter() - started
    print(
        f"\nIn process: {requests} purchases in {elapsed:.2f} s, "
        f"{1000 * elapsed / requests:.1f} ms each (one thread, profiler on)"
    )
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(40)


def cpu_in_process(
    api_key: str,
    numbers: list[str],
    requests: int,
    pooler_pid: int | None = None,
    variants: dict | None = None,
    turns: int = 5,
) -> dict[str, tuple[float, float, float | None]]:
    """CPU ms per purchase of this process (the WSGI application, as gunicorn calls it, without
    HTTP), of the PostgreSQL backends of its database (behind a pooler, its server connections)
    and of the pooler (`pooler_pid`, else None), over `requests` purchases after 50 unmeasured.

    `variants` (name -> a function that sets the connection up) are measured in turns, `turns`
    rounds of `requests / turns` purchases each, so that other load on a shared machine weighs
    on each alike; the answer has a figure per variant ("" without variants)."""
    import io

    from django.db import connection

    from loyalty.wsgi import application

    run = secrets.token_hex(4)
    count = iter(range(10**9))

    def post() -> None:
        i = next(count)
        ident = f"c-{run}-{i}"
        body = purchase_body(numbers[i % len(numbers)], ident).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": PURCHASE_PATH,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_AUTHORIZATION": f"Api-Key {api_key}",
            "HTTP_IDEMPOTENCY_KEY": ident,
        }
        answer = {}
        content = b"".join(application(environ, lambda status, headers: answer.update(s=status)))
        if not answer["s"].startswith("201"):
            raise SystemExit(f"A purchase in process answered {answer['s']}: {content[:300]!r}")

    def backends() -> dict[int, float]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            pids = [row[0] for row in cursor.fetchall()]
        return {pid: process_cpu(pid) or 0.0 for pid in pids}

    variants = variants or {"": lambda: None}
    if len(variants) == 1:
        turns = 1
    used = {name: [0.0, 0.0, 0.0] for name in variants}
    for _ in range(turns):
        for name, set_up in variants.items():
            set_up()
            for _ in range(50 if turns == 1 else 20):
                post()
            postgres_before, python_before = backends(), time.process_time()
            pooler_before = process_cpu(pooler_pid) if pooler_pid else 0.0
            for _ in range(requests // turns):
                post()
            figures = used[name]
            figures[0] += time.process_time() - python_before
            after = backends()
            figures[1] += sum(cpu - postgres_before.get(pid, 0.0) for pid, cpu in after.items())
            if pooler_pid:
                figures[2] += (process_cpu(pooler_pid) or 0.0) - pooler_before
    done = requests // turns * turns
    return {
        name: (
            1000 * python / done,
            1000 * postgres / done,
            1000 * pooler / done if pooler_pid else None,
        )
        for name, (python, postgres, pooler) in used.items()
    }


# --- report -------------------------------------------------------------------------------------
