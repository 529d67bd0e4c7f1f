# syntax=docker/dockerfile:1
# One image for the service's web and worker processes (deploy/compose.yaml):
#   web     gunicorn -c observability_site/gunicorn.conf.py observability_site.wsgi
#           (the default command; its post_fork hook starts telemetry in each worker)
#   worker  celery -A observability_site worker
#   migrate python manage.py migrate --noinput
# Build: docker build -t observability-site:0.1.0 .
# Dependencies are installed with the repository's pins (-c requirements.lock), runtime only.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv with the service and its pinned dependencies ------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
WORKDIR /src
# The runtime dependencies of pyproject.toml, at the versions of requirements.lock (the lock
# also pins the dev tools, which are not installed here). The code runs from /app, so the
# project itself is not installed.
COPY pyproject.toml requirements.lock ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && /opt/venv/bin/pip install -c requirements.lock -r requirements.txt

# --- viewer: the speedscope profile viewer the console serves to staff (package-lock.json) ----
FROM node:20-bookworm-slim AS viewer
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

# --- runtime: the virtualenv, the code, a user without privileges ---------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=observability_site.settings \
    DATA_DIR=/var/lib/observability-site \
    GUNICORN_BIND=0.0.0.0:8000 \
    PORT=8000
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --shell /usr/sbin/nologin app \
    && install -d -o app -g app -m 0750 /var/lib/observability-site \
    && install -d -o app -g app -m 0755 /var/lib/observability-site/rules
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY manage.py ./
COPY common/ common/
COPY observability_site/ observability_site/
COPY users/ users/
COPY processing/ processing/
COPY telemetry/ telemetry/
# The runbooks the admin shows beside an alert event (telemetry.alerting.runbooks).
COPY docs/runbooks/ docs/runbooks/
# speedscope's built files, where PROFILING_SPEEDSCOPE_DIR looks by default.
COPY --from=viewer /src/node_modules/speedscope/dist/release/ node_modules/speedscope/dist/release/
USER app:app
EXPOSE 8000
CMD ["gunicorn", "-c", "observability_site/gunicorn.conf.py", "observability_site.wsgi"]
