#!/bin/sh
# The password file from the environment (the database's own user and password: PgBouncer
# checks the app's with it and logs in to PostgreSQL with it), then PgBouncer in the foreground.
set -eu
umask 077
mkdir -p /tmp/pgbouncer
quoted() { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }
echo "$(quoted "$DATABASE_USER") $(quoted "$DATABASE_PASSWORD")" > /tmp/pgbouncer/userlist.txt
exec pgbouncer "${PGBOUNCER_CONFIG:-/etc/pgbouncer/pgbouncer.ini}"
