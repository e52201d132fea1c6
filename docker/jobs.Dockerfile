# syntax=docker/dockerfile:1
# The job runner image: the SageMaker training image of `uhnw job run train_relevance --on sagemaker`
# (uhnw.ops.sagemaker_train: ContainerEntrypoint ["uhnw"], arguments `job run train_relevance --date D -p ...`, with
# UHNW_PROFILE=aws), and any papermill job notebook run the same way: `docker run IMAGE job run NAME --date D`.
# The wheel with its `jobs` extra (papermill, ipykernel, pyspark, nbdev, jupyterlab) and `aws` extra (awswrangler,
# pyathena, sagemaker). It has no Java: the Spark jobs (daily_pnl, news_stream_to_silver) run on EMR Serverless with
# the service's own Spark; see docker/README.md for why this file does not start FROM an EMR Serverless base image.
# Build from the repository root after `make wheel` (dist/ holds exactly one uhnw wheel):
#   docker build -f docker/jobs.Dockerfile -t uhnw-jobs .
# Configuration comes from UHNW_* environment variables at run time (uhnw.config); nothing secret is baked in.

# --- builder: the wheel file and "uhnw[jobs,aws]" name one project, so pip installs that file with the two extras
FROM python:3.11.17-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
COPY dist/uhnw-*.whl /tmp/wheels/
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir /tmp/wheels/uhnw-*.whl "uhnw[jobs,aws]"

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
ENTRYPOINT ["uhnw"]
CMD ["job", "--help"]
