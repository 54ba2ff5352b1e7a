# syntax=docker/dockerfile:1
# Multi-stage and reproducible: dependencies installed from requirements.lock (exact versions,
# sha256 hashes checked), Ledgerline's wheel built with requirements-build.lock's tools, then
# run as a non-root user. The embedded PostgreSQL (the `embedded` extra) is left out: the
# image always runs on DATABASE_URL. Regenerate the locks with scripts/lock.sh.
#
# The base image is pinned to an exact Python patch release and Debian release. Pin it by
# digest as well where the build can resolve one (`docker buildx imagetools inspect
# python:3.11.14-slim-bookworm`), e.g. `FROM python:3.11.14-slim-bookworm@sha256:<digest>`.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
COPY requirements.lock requirements-build.lock ./
RUN python -m venv /opt/ledgerline \
    && /opt/ledgerline/bin/pip install --require-hashes --no-deps -r requirements.lock \
    && python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes --no-deps -r requirements-build.lock
COPY pyproject.toml README.md ./
COPY schema ./schema
COPY resolvers ./resolvers
COPY domain ./domain
COPY auth ./auth
COPY infra ./infra
# Only Ledgerline itself here: every dependency came from the lock above.
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
    && /opt/ledgerline/bin/pip install --no-deps /wheels/*.whl \
    && /opt/ledgerline/bin/pip check

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system ledgerline && useradd --system --gid ledgerline --create-home ledgerline \
    && mkdir -p /var/lib/ledgerline && chown ledgerline:ledgerline /var/lib/ledgerline
COPY --from=build /opt/ledgerline /opt/ledgerline
ENV PATH=/opt/ledgerline/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ENVIRONMENT=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/var/lib/ledgerline
USER ledgerline
WORKDIR /var/lib/ledgerline
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/healthz', timeout=2)" || exit 1
# Production needs DATABASE_URL, SECRET_KEY and OAUTH_ISSUER; run `ledgerline migrate` first.
# SIGTERM (docker stop, Kubernetes): stops listening, finishes the requests in flight
# (SHUTDOWN_TIMEOUT), exits.
STOPSIGNAL SIGTERM
CMD ["ledgerline", "serve"]
