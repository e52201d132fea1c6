# syntax=docker/dockerfile:1
# `uhnw serve crm`: the CDC applier (crm-cdc-events -> PostgreSQL clients and rm_coverage, in commit order).
# A Kafka consumer with no port of its own: no EXPOSE, no HEALTHCHECK (its liveness is the process).
# Build from the repository root after `make wheel` (dist/ holds exactly one uhnw wheel):
#   docker build -f docker/crm.Dockerfile -t uhnw-crm .
# Configuration comes from UHNW_* environment variables at run time (uhnw.config); nothing secret is baked in.
# tests/test_images.py runs this file's install step and CMD in a fresh virtual environment.

# --- builder: the wheel and its runtime dependencies (no extras) in a virtual environment
FROM python:3.11.17-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
COPY dist/uhnw-*.whl /tmp/wheels/
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir /tmp/wheels/uhnw-*.whl

# --- runtime: the same base, the virtual environment only, a non-root user
FROM python:3.11.17-slim-bookworm
RUN groupadd --gid 10001 uhnw \
 && useradd --uid 10001 --gid 10001 --no-log-init --create-home --home-dir /home/uhnw --shell /usr/sbin/nologin uhnw
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    UHNW_HOME=/home/uhnw/data
USER 10001:10001
WORKDIR /home/uhnw
CMD ["uhnw", "serve", "crm"]
