# syntax=docker/dockerfile:1
# Multi-stage: build a wheel with its dependencies, then run it as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/ledgerline
COPY pyproject.toml README.md ./
COPY schema ./schema
COPY resolvers ./resolvers
COPY domain ./domain
COPY auth ./auth
COPY infra ./infra
RUN /opt/ledgerline/bin/pip install .

FROM python:3.11-slim AS runtime
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
CMD ["ledgerline", "serve"]
