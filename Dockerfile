# Polypost API and worker image. One image, three roles chosen by the command:
#   polypost serve --host 0.0.0.0   (default; embedded mode unless POLYPOST_REDIS_URL is set)
#   polypost worker                 (distributed mode job runner)
#   polypost migrate                (one-shot schema upgrade)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# ffprobe reads video dimensions and duration when an upload is completed.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/polypost
COPY pyproject.toml README.md ./
COPY src ./src
COPY migrations ./migrations
# The wheel carries the Alembic migrations as polypost/_migrations.
RUN pip install . \
    && python -c "import polypost.cli as c; assert (c.migrations_dir() / 'env.py').is_file()"

# Unprivileged runtime user; its home holds the embedded-mode data (SQLite file, media,
# generated secrets) when no Postgres/Redis/S3 is configured.
RUN groupadd --system --gid 10001 polypost \
    && useradd --system --uid 10001 --gid polypost --create-home --home-dir /var/lib/polypost polypost
ENV POLYPOST_DATA_DIR=/var/lib/polypost/data \
    POLYPOST_DATABASE_URL=sqlite+aiosqlite:////var/lib/polypost/data/polypost.db
WORKDIR /var/lib/polypost
USER 10001:10001
VOLUME ["/var/lib/polypost"]

EXPOSE 8000
CMD ["polypost", "serve", "--host", "0.0.0.0"]
