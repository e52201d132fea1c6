# syntax=docker/dockerfile:1
# `uhnw serve hotpath`: the streaming enrichment service (raw-news-events -> enrich -> enriched-alerts, exactly once),
# with its /health and /metrics server on port 9108.
# Build from the repository root after `make wheel` (dist/ holds exactly one uhnw wheel):
#   docker build -f docker/hotpath.Dockerfile -t uhnw-hotpath .
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
EXPOSE 9108
# /health answers while the service runs; urlopen raises when nothing does (the slim image has no curl)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9108/health', timeout=4)"]
CMD ["uhnw", "serve", "hotpath", "--host", "0.0.0.0", "--metrics-port", "9108"]
