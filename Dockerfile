# syntax=docker/dockerfile:1
# One image for the trainer (`lensflow pipeline`), the API (default command) and the MLflow tracking
# server of the Compose stack (mlflow and psycopg are lensflow dependencies already).

# --- build: a virtualenv with lensflow and its dependencies -----------------------------------------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
# torch first, pinned, from PyTorch's CPU index: from PyPI the same version is a multi-GB CUDA build.
RUN python -m venv /opt/venv \
    && pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
WORKDIR /src
# Dependencies before the source, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt
COPY src ./src
RUN pip install --no-cache-dir --no-deps .

# --- runtime: the virtualenv, a non-root user, nothing else -----------------------------------------
FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LENSFLOW_HOME=/var/lib/lensflow
# The state dirs exist in the image owned by the user, so named volumes mounted on them start writable.
RUN groupadd --system --gid 10001 lensflow \
    && useradd --system --uid 10001 --gid lensflow --home-dir /home/lensflow --create-home \
        --shell /usr/sbin/nologin lensflow \
    && mkdir -p /var/lib/lensflow/data /var/lib/lensflow/mlartifacts \
    && chown -R lensflow:lensflow /var/lib/lensflow
COPY --from=build /opt/venv /opt/venv
# Numeric, so a runtime that checks for non-root (runAsNonRoot) can tell without /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/lensflow
EXPOSE 8000
CMD ["lensflow", "serve", "--host", "0.0.0.0"]
