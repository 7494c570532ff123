# One image for the whole stack: web (gunicorn, the default command), worker and beat (celery).
# docker-compose.yml runs it three times with different commands.
FROM python:3.11-slim

# The settings find templates/, static/ and locale/ beside the code, so the code runs from /app;
# the installed package supplies the dependencies and console scripts (gunicorn, celery).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    DEBUG=false

WORKDIR /app

# GNU gettext compiles the translations at build time.
RUN apt-get update && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*

# Dependencies in their own layer, rebuilt only when pyproject.toml (or README.md) changes:
# with no packages copied yet this installs every dependency and an empty project.
COPY pyproject.toml README.md ./
RUN pip install . && rm -rf build *.egg-info

COPY . .
# The project itself, then the static files (hashed and compressed by WhiteNoise's storage).
# DEBUG off refuses to start without a SECRET_KEY; this one exists only for the build step.
RUN pip install --no-deps --force-reinstall . && rm -rf build *.egg-info \
    && SECRET_KEY=collectstatic-at-build-time-only DEBUG=false \
       python manage.py collectstatic --noinput \
    && python manage.py compilemessages --ignore=.venv -v0

# Run as a user that cannot change the code; it may write only uploaded media (and the
# Prometheus counts gunicorn's workers share: PROMETHEUS_MULTIPROC_DIR).
RUN useradd --system --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin loyalty \
    && mkdir -p /app/media /tmp/prometheus && chown loyalty:loyalty /app/media /tmp/prometheus
USER loyalty

EXPOSE 8000
CMD ["gunicorn", "loyalty.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
