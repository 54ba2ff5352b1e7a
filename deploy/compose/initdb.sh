#!/bin/sh
# Runs once, when the PostgreSQL volume is first created (docker-entrypoint-initdb.d).
# `ledgerline migrate` runs as the owner (POSTGRES_USER); the API and the worker log in as
# `ledgerline_api`, a member of `ledgerline_app` that owns nothing, so row-level security
# applies to everything they do. The migrations create `ledgerline_app` when it is missing
# and grant it what it needs; created here first so that the login role can join it.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v api_password="$LEDGERLINE_API_PASSWORD" <<'SQL'
CREATE ROLE ledgerline_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
CREATE ROLE ledgerline_api LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD :'api_password'
    IN ROLE ledgerline_app;
SQL
