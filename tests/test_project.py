"""The project's own files: the compose stack, the README's first lines, production settings."""

import configparser
import os
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat", "relay")
# Set by a developer's shell, they would change what the production settings do here.
DEPLOY_VARIABLES = (
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
)


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _production_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in DEPLOY_VARIABLES}
    env["DEBUG"] = "false"
    env.update(overrides)
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_compose_has_the_stack_with_one_image_for_web_worker_beat_and_relay():
    # given
    compose = _compose()

    # when
    services = compose["services"]

    # then
    assert set(services) == {"db", "pgbouncer", "redis", "web", "worker", "beat", "relay"}
    assert services["db"]["image"] == "postgres:15"
    assert "healthcheck" in services["db"]
    assert services["redis"]["image"] == "redis:7"
    builds = [services[name].get("build") for name in APP_SERVICES]
    images = [services[name].get("image") for name in APP_SERVICES]
    assert builds == [builds[0]] * len(APP_SERVICES)
    assert builds[0] is not None
    assert images == [images[0]] * len(APP_SERVICES)
    assert images[0] is not None


def test_compose_app_services_share_the_environment_and_require_a_secret_key():
    # given
    services = _compose()["services"]

    # when
    environments = [services[name]["environment"] for name in APP_SERVICES]

    # then
    assert environments == [environments[0]] * len(APP_SERVICES)
    env = environments[0]
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert env["DEBUG"] == "false"
    assert env["DATABASE_URL"].startswith("postgres://")
    assert env["DATABASE_URL"].endswith("@pgbouncer:6432/loyalty")
    assert env["DATABASE_DIRECT_URL"].endswith("@db:5432/loyalty")
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert "ALLOWED_HOSTS" in env
    # the relay sends webhooks, so no request enqueues a task a delivery
    assert env["LOYALTY_WEBHOOK_RELAY"] == "true"


def test_compose_commands_migrate_before_web_and_schedule_from_the_database():
    # given
    services = _compose()["services"]

    # when
    web = " ".join(services["web"]["command"])
    worker = services["worker"]["command"]
    beat = services["beat"]["command"]
    relay = services["relay"]["command"]

    # then
    assert web.index("python manage.py migrate") < web.index("gunicorn loyalty.wsgi")
    # (compose reads $$ as a plain $: the shell expands it)
    assert 'DATABASE_URL="$$DATABASE_DIRECT_URL" python manage.py migrate' in web
    assert "0.0.0.0:8000" in web
    assert worker[:4] == ["celery", "-A", "loyalty", "worker"]
    assert beat[:4] == ["celery", "-A", "loyalty", "beat"]
    assert "django_celery_beat.schedulers:DatabaseScheduler" in beat
    assert relay == ["python", "manage.py", "webhooks_relay"]
    assert services["relay"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_compose_runs_the_app_through_debians_pgbouncer_in_transaction_mode():
    # given
    services = _compose()["services"]
    folder = ROOT / services["pgbouncer"]["build"]

    # when
    dockerfile = (folder / "Dockerfile").read_text()
    config = configparser.ConfigParser()
    config.read_string((folder / "pgbouncer.ini").read_text())

    # then
    assert "FROM debian:bookworm-slim" in dockerfile
    assert "apt-get install -y --no-install-recommends pgbouncer" in dockerfile
    assert "USER postgres" in dockerfile
    assert config["pgbouncer"]["pool_mode"] == "transaction"
    assert config["pgbouncer"]["listen_port"] == "6432"
    assert config["databases"]["loyalty"] == "host=db port=5432 dbname=loyalty"
    assert services["web"]["environment"]["DATABASE_POOL_MODE"] == "transaction"
    assert "pgbouncer" in services["web"]["depends_on"]
    assert services["pgbouncer"]["healthcheck"]["test"][1] == "pg_isready"


def test_dockerfile_runs_gunicorn_as_a_user_that_is_not_root():
    # given
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]

    # when
    bases = [line for line in lines if line.startswith("FROM ")]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    cmd = [line for line in lines if line.startswith("CMD ")]

    # then
    assert bases == ["FROM python:3.11-slim"]
    assert users == ["loyalty"]
    assert len(cmd) == 1
    assert '"gunicorn", "loyalty.wsgi"' in cmd[0]
    assert '"0.0.0.0:8000"' in cmd[0]


def test_readme_starts_with_the_two_commands():
    # given
    head = (ROOT / "README.md").read_text().splitlines()[:15]

    # when
    text = "\n".join(head)

    # then
    assert "make run" in text
    assert "make test" in text


def test_settings_refuse_to_start_with_debug_off_and_no_secret_key():
    # given
    env = _production_env()
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='loyalty.settings'; django.setup()"
    )

    # when
    result = _run([sys.executable, "-c", code], env)

    # then
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_settings_pass_the_deploy_check():
    # given
    env = _production_env(SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="example.com")

    # when
    result = _run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env
    )

    # then
    assert result.returncode == 0, result.stdout + result.stderr
