"""The dashboard's half of bench/insights.py: serve it, log in as staff, time its pages.

Over real HTTP, as staff use it: gunicorn with the project's gunicorn.conf.py (its workers and
threads; only the address and log level on the command line) and the environment it is given
(DEBUG off: the static files are collected first, since the admin's pages name them through
the manifest), a staff superuser made (or its password set anew) with `manage.py shell`, logged
in through the admin's login form with its CSRF token, then each page requested one after the
other on one keep-alive connection, as one person's browser does. A library module of
insights.py: bench/run.py skips _private modules.
"""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import http.client
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from _earn_load import free_port, stop_gunicorn
from _shared import BENCH_DIR, ROOT, percentile

STAFF_EMAIL = "bench-staff@bench.invalid"
DASHBOARD_NAMES = ("admin:insights_dashboard", "insights-dashboard")  # now, and at first
OUT = BENCH_DIR / "out"


def manage(*args: str) -> list[str]:
    return [sys.executable, "manage.py", *args]


def staff_user(env: dict[str, str]) -> tuple[str, str]:
    """A staff superuser with a fresh random password (made, or its password set anew), and
    the dashboard's path as the URLconf names it (it moved once; the CSV links are on it)."""
    password = os.urandom(12).hex()
    script = (
        "import os\nfrom django.urls import NoReverseMatch, reverse\n"
        "from accounts.models import User\n"
        f"user, _ = User.objects.get_or_create(email={STAFF_EMAIL!r})\n"
        "user.is_staff = user.is_superuser = user.is_active = True\n"
        "user.set_password(os.environ['BENCH_STAFF_PASSWORD'])\nuser.save()\n"
        f"for name in {DASHBOARD_NAMES!r}:\n"
        "    try:\n        print('BENCH_DASHBOARD', reverse(name))\n        break\n"
        "    except NoReverseMatch:\n        pass\n"
    )
    done = subprocess.run(
        manage("shell", "-v", "0", "-c", script),
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
        env={**env, "BENCH_STAFF_PASSWORD": password},
    )
    found = re.search(r"BENCH_DASHBOARD (\S+)", done.stdout)
    if found is None:
        sys.exit(f"No dashboard URL named {' or '.join(DASHBOARD_NAMES)}:\n{done.stdout}")
    return password, found[1]


class Browser:
    """One keep-alive connection with the cookies a browser would send back."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        content = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value
        return response.status, content

    def log_in(self, password: str, dashboard: str) -> None:
        status, page = self.request("GET", "/admin/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or token is None:
            sys.exit(f"The admin's login page answered {status}: {page[:300]!r}")
        form = {
            "csrfmiddlewaretoken": token[1].decode(),
            "username": STAFF_EMAIL,
            "password": password,
            "next": dashboard,
        }
        status, page = self.request("POST", "/admin/login/", urlencode(form))
        if status != 302 or "sessionid" not in self.cookies:
            sys.exit(f"Logging in answered {status}: {page[:300]!r}")


def timed(browser: Browser, path: str, warmup: int, requests: int) -> dict:
    size = 0
    times = []
    for i in range(warmup + requests):
        began = time.perf_counter()
        status, content = browser.request("GET", path)
        took = (time.perf_counter() - began) * 1000
        if status != 200:
            sys.exit(f"{path} answered {status}: {content[:300]!r}")
        size = len(content)
        if i >= warmup:
            times.append(took)
    times.sort()
    return {
        "path": path,
        "p50": percentile(times, 50),
        "p95": percentile(times, 95),
        "max": times[-1],
        "bytes": size,
        "requests": requests,
    }


def serve_dashboard(env: dict[str, str], args) -> list[dict]:
    subprocess.run(manage("collectstatic", "--noinput", "-v", "0"), cwd=ROOT, env=env, check=True)
    password, dashboard = staff_user(env)
    port = free_port()
    log = OUT / "insights-gunicorn.log"
    gunicorn = Path(sys.executable).parent / "gunicorn"
    command = [
        str(gunicorn) if gunicorn.exists() else "gunicorn",
        "loyalty.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]  # the rest: gunicorn.conf.py
    server = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        browser = None
        deadline = time.monotonic() + 60
        while browser is None:
            try:
                browser = Browser(port)
                browser.log_in(password, dashboard)
            except (ConnectionError, http.client.HTTPException):
                browser = None
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"gunicorn did not serve:\n{log.read_text()}")
                time.sleep(0.3)
        print(f"{dashboard}: {args.warmup} + {args.requests} requests ...", flush=True)
        rows = [timed(browser, dashboard, args.warmup, args.requests)]
        status, page = browser.request("GET", dashboard)
        if b'id="panel-' not in page:
            sys.exit("The dashboard shows no panels: no snapshot?")
        for path in sorted(set(re.findall(r'href="([^"]+\.csv)"', page.decode()))):
            rows.append(timed(browser, path, 2, args.csv_requests))
        for row in rows:
            print(
                f"  {row['path']}: p50 {row['p50']:.1f} ms, p95 {row['p95']:.1f} ms, max "
                f"{row['max']:.1f} ms ({row['bytes']:,} bytes)",
                flush=True,
            )
        return rows
    finally:
        stop_gunicorn(server)  # (the process group: master and workers)
