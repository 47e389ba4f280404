# syntax=docker/dockerfile:1
# One image for every hitl service: `hitl broker` (the default), and the gateway and notifiers
# as they land (`hitl gateway`, `hitl notifier ...`). docs/deploy/compose.md explains it.
#
#   docker build -t hitl .
#   docker run --rm hitl --version
#
# PYTHON_IMAGE must be the same in both stages: the virtual environment built in the first
# links to that image's interpreter.
ARG PYTHON_IMAGE=docker.io/library/python:3.11-slim-bookworm

# ---- build: resolve nothing, install exactly uv.lock's runtime set into /opt/hitl ----------
FROM ${PYTHON_IMAGE} AS build

ARG UV_VERSION=0.13.9
RUN python -m pip install --no-cache-dir "uv==${UV_VERSION}"

# Compile to bytecode here (the final image may run with a read-only root filesystem), copy
# files instead of hard-linking from uv's cache, and never download an interpreter.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/hitl

WORKDIR /src

# Dependencies first, so a source change does not reinstall them. bench/pyproject.toml is a
# member of the uv workspace: the lock file names it, so it must be there to be left out.
COPY pyproject.toml uv.lock ./
COPY bench/pyproject.toml bench/pyproject.toml
RUN uv sync --frozen --no-dev --no-install-project --no-install-workspace

# hitl itself as a regular (non-editable) wheel install: /src is not in the final image.
COPY README.md ./
COPY services services
COPY schemas schemas
RUN uv sync --frozen --no-dev --no-editable

# ---- runtime: the interpreter, the virtual environment, a user; no uv, no compilers --------
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="hitl" \
      org.opencontainers.image.description="Human-in-the-loop interaction broker over RabbitMQ and Redis" \
      org.opencontainers.image.licenses="Apache-2.0"

# pip, setuptools and wheel are only needed to install things; the image installs nothing.
RUN python -m pip uninstall --yes --no-cache-dir pip setuptools wheel \
    && groupadd --system --gid 10001 hitl \
    && useradd --system --uid 10001 --gid hitl --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin hitl

COPY --from=build /opt/hitl /opt/hitl

# The ops endpoint (/metrics, /healthz, /readyz) must be reachable from outside the container.
ENV PATH=/opt/hitl/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HITL_METRICS_HOST=0.0.0.0 \
    HITL_METRICS_PORT=9464

USER 10001:10001
EXPOSE 9464

# Liveness of the process through /healthz, with the interpreter the image already has.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HITL_METRICS_PORT', '9464'), timeout=3)"]

ENTRYPOINT ["hitl"]
CMD ["broker"]
