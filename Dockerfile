# skillpager: one process (uvicorn + writer + scheduler) on SQLite by default.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SKILLPAGER_HOST=0.0.0.0 \
    SKILLPAGER_PORT=8080 \
    SKILLPAGER_DATABASE_URL=sqlite+aiosqlite:////data/skillpager.db \
    SKILLPAGER_RULES_DIR=/app/routing_rules

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY routing_rules ./routing_rules
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --home-dir /data skillpager \
    && mkdir -p /data && chown skillpager /data

USER skillpager
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --retries=3 \
    CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"SKILLPAGER_PORT\"]}/healthz', timeout=2)"
CMD ["sh", "-c", "skillpager migrate && exec skillpager serve"]
