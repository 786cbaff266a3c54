# syntax=docker/dockerfile:1
# The MLflow tracking server of the Compose stack: a pinned mlflow with the Postgres driver its
# backend store needs (the upstream image has none), curl for the healthcheck, a non-root user.
FROM python:3.11.14-slim-bookworm
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir mlflow==3.17.2 psycopg2-binary==2.9.13 \
    && groupadd --system --gid 10002 mlflow \
    && useradd --system --uid 10002 --gid mlflow --home-dir /var/lib/mlflow --create-home \
        --shell /usr/sbin/nologin mlflow \
    && mkdir -p /var/lib/mlflow/artifacts \
    && chown -R mlflow:mlflow /var/lib/mlflow
USER 10002:10002
WORKDIR /var/lib/mlflow
EXPOSE 5000
CMD ["mlflow", "server", "--host=0.0.0.0", "--port=5000"]
