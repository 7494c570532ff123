# Two commands do all set-up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTHON ?= $(shell command -v python3.11 || command -v python3)
HOST ?= 127.0.0.1
PORT ?= 8000
LANGS := lt bg da ru pl
# What makemessages must not scan.
MESSAGES_IGNORE := --ignore=.venv --ignore=tests --ignore=bench --ignore=staticfiles --ignore=media

# The suite's processes (pytest-xdist; each has a test database of its own): one a core. Much of
# a test waits on PostgreSQL, a worker or a browser, so two on two cores take about half as long.
# Tests marked xdist_group run in one process together (the fault suite's stack starts once).
TEST_PROCESSES ?= auto

# What `make test` runs again through a PgBouncer in transaction mode (tests/conftest.py): its
# own tests (purchases on several server connections, a migration under them), the member
# reads' prepared statements, and the concurrency tests (those that use tests/concurrency.py,
# and the insights run on several connections).
THROUGH_PGBOUNCER := tests/pgbouncer tests/api/test_member_answer.py tests/api/test_ledger_first_page.py \
	tests/loyalty/test_concurrency.py tests/api/test_idempotency_concurrency.py \
	tests/api/test_idempotency_claim.py tests/rewards/test_concurrency.py \
	tests/referrals/test_concurrency.py \
	tests/jobs/test_concurrency.py tests/pending/test_concurrency.py \
	tests/roles/test_adjustments.py::test_two_managers_approving_at_once_write_once \
	tests/feedback/test_services.py::test_two_staff_thanking_at_once_pay_once \
	tests/webhooks/test_delivery_dispatch.py::test_two_workers_attempting_one_delivery_send_it_once \
	tests/rewards/test_redemptions.py::test_a_member_redeeming_concurrently_spends_their_points_once \
	tests/insights/test_ladder.py::test_the_run_on_several_connections_gives_the_same_answers

.PHONY: install system-packages messages compilemessages run test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# Debian packages the project needs: gettext (compiling translations), chromium (the browser
# test) and pgbouncer (the tests through it; in /usr/sbin). Installed only when missing, and
# only where we may (root on CI machines).
system-packages:
	@missing=""; \
	command -v msgfmt >/dev/null || missing="$$missing gettext"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer || missing="$$missing pgbouncer"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
		else \
			echo "Please install:$$missing (Debian packages)"; \
		fi; \
	fi

install: $(STAMP) system-packages compilemessages

compilemessages: $(STAMP)
	$(PY) manage.py compilemessages --ignore=.venv -v0

# For developers: extract new messages into locale/*/LC_MESSAGES/django.po.
messages: $(STAMP)
	$(PY) manage.py makemessages $(addprefix -l ,$(LANGS)) --no-obsolete --no-location $(MESSAGES_IGNORE)

# Without REDIS_URL the demo still runs its schedule: a Celery worker with beat takes tasks from
# a folder (kombu's filesystem transport, .demo-broker/) and runs today's jobs when it starts.
DEMO_ENV := LOYALTY_DEMO_BROKER=.demo-broker LOYALTY_DEMO_RUN_JOBS_AT_START=1 HOST=$(HOST) PORT=$(PORT)

# The seeds' e-mails (a crowd's year of them) go to files in .demo-mail/, not the terminal.
SEED_ENV := EMAIL_URL=filemail:///.demo-mail

run: install
	$(PY) manage.py migrate --noinput
	$(SEED_ENV) $(PY) manage.py seed_demo
	$(SEED_ENV) $(PY) manage.py seed_crowd
	$(PY) manage.py demo_logins --site http://$(HOST):$(PORT)/
ifdef REDIS_URL
	$(VENV)/bin/honcho -f Procfile start
else
	$(DEMO_ENV) $(VENV)/bin/honcho -f Procfile.demo start
endif

test: install
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache --no-logo
	$(PY) .ci/audit.py
	$(PY) -m pytest -n $(TEST_PROCESSES) --dist loadgroup
	LOYALTY_TEST_PGBOUNCER=1 $(PY) -m pytest $(THROUGH_PGBOUNCER)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache --no-logo

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The benchmarks' tools: pgbench (the machine's yardstick) and wrk (the API load generator).
bench: install
	@missing=""; \
	command -v pgbench >/dev/null || missing="$$missing postgresql-client"; \
	command -v wrk >/dev/null || missing="$$missing wrk"; \
	if [ -n "$$missing" ] && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing \
			|| true; \
	fi
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm .demo-broker .demo-mail staticfiles
