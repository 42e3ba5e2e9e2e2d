# skillpager: one process (uvicorn + writer + scheduler) on SQLite by default.
#
#   docker build -t skillpager .
#   docker run -p 8080:8080 -v skillpager-data:/data --env-file skillpager.env \
#       -v "$PWD/routing_rules:/etc/skillpager/routing_rules:ro" skillpager
#
# Nothing site-specific is baked in: the webhook token and other secrets come from the
# environment (--env-file, see deploy/skillpager.env.example), the skills map from a read-only
# mount over /etc/skillpager/routing_rules (edits reload within ~2 s; the image's copy of the
# example is only a default). deploy/compose.yaml does both.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SKILLPAGER_HOST=0.0.0.0 \
    SKILLPAGER_PORT=8080 \
    SKILLPAGER_DATABASE_URL=sqlite+aiosqlite:////data/skillpager.db \
    SKILLPAGER_RULES_DIR=/etc/skillpager/routing_rules

# A regular (not --system) account: a uid above 999 is outside the system range, which
# useradd --system warns about. Numeric USER below, so runAsNonRoot checks can see it.
RUN useradd --no-log-init --uid 10001 --user-group --no-create-home --home-dir /data --shell /usr/sbin/nologin skillpager \
    && install -d -o skillpager -g skillpager /data

# Dependencies from the lock first: this layer is rebuilt only when requirements/runtime.txt
# changes, not on every code change.
COPY requirements/runtime.txt /tmp/requirements-runtime.txt
RUN pip install --no-cache-dir -r /tmp/requirements-runtime.txt

# Then the package itself (migrations/ ship inside it as app.migrations), without deps.
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY migrations ./migrations
COPY app ./app
RUN pip install --no-cache-dir --no-deps . && rm -rf /src

COPY routing_rules /etc/skillpager/routing_rules

WORKDIR /data
USER 10001
VOLUME ["/data"]
EXPOSE 8080
# Docker-format images only: an OCI build (podman/buildah's default) drops HEALTHCHECK, so build
# those with `--format docker`, or use the healthcheck in deploy/compose.yaml, which any
# runtime honours.
HEALTHCHECK --interval=30s --timeout=3s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"SKILLPAGER_PORT\"]}/healthz', timeout=2)"]
CMD ["skillpager", "serve", "--migrate"]
