# vipcases: the web app, its Celery worker and beat share this image.
#
#   docker build -t vipcases .
#   docker compose up        (see docker-compose.yml and .env.example)

# --- frontend: GOV.UK Frontend and MOJ Frontend from npm, copied into static/vendor/ ---
FROM python:3.11-slim AS frontend

RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY scripts/build_frontend.py scripts/
RUN python scripts/build_frontend.py

# --- the application --------------------------------------------------------------------
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system vipcases \
    && useradd --system --gid vipcases --home-dir /app --shell /usr/sbin/nologin vipcases

WORKDIR /app
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

COPY . .
COPY --from=frontend /app/static/vendor/ static/vendor/

# Static files are collected at build time; the key only lets the settings load.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput

# The code stays owned by root: the app only reads it (beat keeps its schedule in /tmp).
USER vipcases
EXPOSE 8000

CMD ["gunicorn", "vipcases.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
