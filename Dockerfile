# outage_notify container image.
#
#   docker build -t outage-notify .
#   docker run -p 8000:8000 -v outage-data:/data outage-notify
#
# BASE is any Debian-like image with Python 3.11+, venv and pip: python:3.11-slim by default;
# scripts/build-image.sh points it at a local Debian bookworm base (python3 from Debian), which
# is why every step below calls `python3` and never relies on the python:*-slim layout.
ARG BASE=python:3.11-slim

# ---- assets: the pages' browser files (leaflet, ...) from the npm registry ------------------
# Node.js and npm from Debian in a stage of their own: nothing of them reaches the runtime
# image, only the copied files (outage_notify/web/static/vendor/, served by the app itself).
FROM ${BASE} AS assets
RUN set -eu; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update -qq; \
    apt-get install -y -qq --no-install-recommends nodejs npm ca-certificates >/dev/null; \
    rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json .image/build-ca.cr[t] /src/
COPY scripts/build-assets.sh /src/scripts/build-assets.sh
RUN set -eu; \
    if [ -s /src/build-ca.crt ]; then export NODE_EXTRA_CA_CERTS=/src/build-ca.crt; fi; \
    VENDOR=/src/vendor bash /src/scripts/build-assets.sh

# ---- builder: a venv in /opt/venv with the project installed, non-editable -----------------
FROM ${BASE} AS builder

# Optional package index for pip (e.g. a mirror). Left empty, pip uses its default index.
# These arguments exist only in this stage: nothing of them reaches the runtime image.
ARG PIP_INDEX_URL=
ARG PIP_EXTRA_INDEX_URL=

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DEFAULT_TIMEOUT=120 \
    PYTHONDONTWRITEBYTECODE=1

RUN python3 -m venv /opt/venv
WORKDIR /src

# A build behind a TLS-intercepting proxy can put that proxy's CA bundle into the context as
# .image/build-ca.crt (git-ignored; scripts/build-image.sh does, and deletes it afterwards).
# The [t] glob makes it optional. Only pip uses it, and only in this stage, which the runtime
# image does not inherit.
COPY pyproject.toml README.m[d] .image/build-ca.cr[t] /src/

# Dependencies first, read from pyproject.toml: this layer is rebuilt only when that changes.
RUN set -eu; \
    if [ -s /src/build-ca.crt ]; then export PIP_CERT=/src/build-ca.crt; fi; \
    [ -n "${PIP_INDEX_URL}" ] || unset PIP_INDEX_URL; \
    [ -n "${PIP_EXTRA_INDEX_URL}" ] || unset PIP_EXTRA_INDEX_URL; \
    /opt/venv/bin/python -m pip install --upgrade pip; \
    /opt/venv/bin/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt; \
    /opt/venv/bin/python -m pip install -r /tmp/requirements.txt

# Then the project itself, non-editable, with the browser assets in its static files.
COPY outage_notify/ /src/outage_notify/
COPY --from=assets /src/vendor/ /src/outage_notify/web/static/vendor/
RUN set -eu; \
    if [ -s /src/build-ca.crt ]; then export PIP_CERT=/src/build-ca.crt; fi; \
    [ -n "${PIP_INDEX_URL}" ] || unset PIP_INDEX_URL; \
    [ -n "${PIP_EXTRA_INDEX_URL}" ] || unset PIP_EXTRA_INDEX_URL; \
    /opt/venv/bin/python -m pip install /src; \
    /opt/venv/bin/python -m pip check; \
    /opt/venv/bin/outage-notify --help >/dev/null

# ---- runtime: the venv, the non-Python assets, a non-root user -----------------------------
FROM ${BASE} AS runtime

ENV PATH=/opt/venv/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OUTAGE_NOTIFY_HOME=/app \
    OUTAGE_NOTIFY_DATABASE_URL=sqlite:////data/outage_notify.db

RUN set -eu; \
    groupadd --gid 10001 outage; \
    useradd --uid 10001 --gid outage --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin outage; \
    mkdir -p /app /data; \
    chown outage:outage /data; \
    chmod 0750 /data

COPY --from=builder /opt/venv /opt/venv
COPY templates/ /app/templates/
COPY migrations/ /app/migrations/
COPY fixtures/ /app/fixtures/
COPY alembic.ini /app/alembic.ini

WORKDIR /app
USER outage:outage
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

CMD ["outage-notify", "serve", "--host", "0.0.0.0", "--port", "8000"]
