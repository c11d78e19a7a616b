# syntax=docker/dockerfile:1
# One image per service, built from the repository root with the lock file:
#   docker build --target syncer -t entrasync/syncer .
# Each target installs its service with scripts/install-service.sh — the same script the test
# suite runs for every service — into /app/.venv, then copies only that venv into a slim runtime.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ghcr.io/astral-sh/uv:0.9.9 AS uv

FROM ${PYTHON_IMAGE} AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_PROGRESS=1
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY shared ./shared
COPY services ./services
COPY simulator ./simulator
COPY devtools ./devtools
COPY scripts/install-service.sh ./scripts/

FROM build AS build-config
RUN ./scripts/install-service.sh config /app/.venv
FROM build AS build-scheduler
RUN ./scripts/install-service.sh scheduler /app/.venv
FROM build AS build-syncer
RUN ./scripts/install-service.sh syncer /app/.venv
FROM build AS build-history
RUN ./scripts/install-service.sh history /app/.venv
FROM build AS build-console
RUN ./scripts/install-service.sh console /app/.venv
FROM build AS build-receiver
RUN ./scripts/install-service.sh receiver /app/.venv

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 entrasync \
    && useradd --system --uid 10001 --gid entrasync --no-create-home --shell /usr/sbin/nologin entrasync
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ENTRASYNC_HEALTH_PORT=8080
WORKDIR /app
EXPOSE 8080
USER 10001:10001
# SIGTERM lets FastStream stop fetching, finish in-flight messages and close connections.
STOPSIGNAL SIGTERM

FROM runtime AS config
COPY --from=build-config /app/.venv /app/.venv
ENTRYPOINT ["entrasync-config"]

FROM runtime AS scheduler
COPY --from=build-scheduler /app/.venv /app/.venv
ENTRYPOINT ["entrasync-scheduler"]

FROM runtime AS syncer
COPY --from=build-syncer /app/.venv /app/.venv
ENTRYPOINT ["entrasync-syncer"]

FROM runtime AS history
COPY --from=build-history /app/.venv /app/.venv
ENTRYPOINT ["entrasync-history"]

FROM runtime AS console
COPY --from=build-console /app/.venv /app/.venv
EXPOSE 8000
ENTRYPOINT ["entrasync-console"]

FROM runtime AS receiver
COPY --from=build-receiver /app/.venv /app/.venv
EXPOSE 8090
ENTRYPOINT ["entrasync-receiver"]

# Stream/bucket declaration Job (runs `entrasync-infra declare` as the NATS admin user).
FROM runtime AS admin
COPY --from=build-scheduler /app/.venv /app/.venv
ENTRYPOINT ["entrasync-infra"]
CMD ["declare"]

# `docker compose up` (compose.yaml): the `make demo` experience on a single Docker host —
# the simulator and every service as processes of one container, against real NATS and
# MongoDB containers (NATS_URL / MONGODB_URI).
FROM build AS build-demo
RUN UV_PROJECT_ENVIRONMENT=/app/.venv uv sync --frozen --no-dev --no-editable

FROM runtime AS demo
COPY --from=build-demo /app/.venv /app/.venv
ENTRYPOINT ["entrasync-demo"]
