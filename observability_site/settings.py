"""Settings, read from the environment. With nothing set, a development instance runs on
SQLite and a filesystem Celery broker under DATA_DIR (./var): no external server needed.

Every variable is listed in the README.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from common.env import envbool, envfloat, envint, envlist, envsecret, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(envstr("DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

SERVICE_NAME = envstr("SERVICE_NAME", "observability-site")
SERVICE_VERSION = envstr("SERVICE_VERSION", "0.1.0")
DEPLOYMENT_ENVIRONMENT = envstr("DEPLOYMENT_ENVIRONMENT", "development")

DEBUG = envbool("DJANGO_DEBUG", False)


def _secret_key() -> str:
    """DJANGO_SECRET_KEY (or _FILE); else a random key kept in DATA_DIR, never in the repo."""
    configured = envsecret("DJANGO_SECRET_KEY")
    if configured:
        return configured
    if DEPLOYMENT_ENVIRONMENT == "production":
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set in production")
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "users",
    "processing",
    "telemetry",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so its capture starts when the route is known (process_view) and wraps the view.
    "telemetry.profiling.middleware.ProfilingMiddleware",
]

ROOT_URLCONF = "observability_site.urls"
WSGI_APPLICATION = "observability_site.wsgi.application"
ASGI_APPLICATION = "observability_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# DATABASE_URL selects the engine (postgres://user@host:5432/name); SQLite by default.
DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the worker write the same file without "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# django-prometheus's engines: the same Django backends, counting connections, queries, query
# time and errors for /metrics (OpenTelemetry instruments queries as spans, not as metrics).
DATABASES["default"]["ENGINE"] = {
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
    "django.db.backends.postgresql": "django_prometheus.db.backends.postgresql",
}.get(DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"])

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "users.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve admin and Swagger assets straight from the apps when collectstatic has not run.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header turns "not logged in" into a 401.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "common.api_errors.exception_handler",
    # Counted in the shared cache (CACHES), so the limits hold across all worker processes.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": envstr("API_THROTTLE_ANON", "60/min"),
        "user": envstr("API_THROTTLE_USER", "1200/min"),
        "login": envstr("API_THROTTLE_LOGIN", "10/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Observability site API",
    "DESCRIPTION": "Users and data processing, observed end to end over OTLP.",
    "VERSION": SERVICE_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# A cache shared by every process (throttle counters must add up across gunicorn workers):
# Redis when CACHE_URL names it, else files under DATA_DIR (no server needed).
CACHE_URL = envstr("CACHE_URL", "")
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
    }
elif CACHE_URL:
    raise ImproperlyConfigured(f"CACHE_URL must be a redis:// URL or empty, got {CACHE_URL!r}")
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# --- Celery: the broker needs no server by default (kombu's filesystem transport).
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = DATA_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": 3,
        "socket_timeout": 5,
        "visibility_timeout": 3600,
    }
# Job state lives in ProcessingJob rows, so no result backend is needed.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = envfloat("CELERY_BROKER_CONNECTION_TIMEOUT", 3.0, minimum=0.1)
# Fail fast when the broker is down at enqueue time instead of blocking the request.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TASK_DEFAULT_QUEUE = envstr("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- processing: the downstream service and the job retry policy.
PORT = envint("PORT", 8000, minimum=1)
PROCESSING_DOWNSTREAM_URL = envstr(
    "PROCESSING_DOWNSTREAM_URL", f"http://127.0.0.1:{PORT}/api/downstream/enrich"
)
PROCESSING_DOWNSTREAM_TIMEOUT = envfloat("PROCESSING_DOWNSTREAM_TIMEOUT", 5.0, minimum=0.01)
PROCESSING_MAX_DATA_CHARS = envint("PROCESSING_MAX_DATA_CHARS", 65536, minimum=1)
PROCESSING_JOB_MAX_RETRIES = envint("PROCESSING_JOB_MAX_RETRIES", 3, minimum=0)
PROCESSING_JOB_RETRY_BACKOFF = envfloat("PROCESSING_JOB_RETRY_BACKOFF", 2.0, minimum=0)
PROCESSING_JOB_RETRY_BACKOFF_MAX = envfloat("PROCESSING_JOB_RETRY_BACKOFF_MAX", 60.0, minimum=0)

# --- logging: one JSON object per line on stdout, carrying trace_id/span_id inside a span
# (telemetry.pipeline.log_format). Records also go over OTLP when logs are exported (see below).
# LOG_FORMAT=plain gives the classic one-line text format for reading in a terminal.
LOG_LEVEL = envstr("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = envstr("LOG_FORMAT", "json").lower()
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "telemetry.pipeline.log_format.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"},
    },
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT},
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The exporters' retry chatter while a collector is down: one warning is enough.
        "opentelemetry": {"level": "ERROR"},
        "opentelemetry.sdk": {"level": "WARNING"},
        # Except the batch processors' "Queue full, dropping" for every dropped item: a
        # full queue is reported once per 20 s with its count by telemetry.fastpath.tallied_metrics.
        "opentelemetry.sdk._shared_internal": {"level": "ERROR"},
    },
}

# --- telemetry: traces, metrics and logs over OTLP (telemetry.pipeline.setup). The standard
# OTEL_* variables come first: OTEL_EXPORTER_OTLP_ENDPOINT (unset: nothing leaves the
# process), OTEL_EXPORTER_OTLP_PROTOCOL (grpc or http/protobuf), OTEL_SERVICE_NAME,
# OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED, OTEL_<SIGNAL>_EXPORTER (otlp, console, none),
# OTEL_METRIC_EXPORT_INTERVAL ... These switch each signal when OTEL_<SIGNAL>_EXPORTER is unset.
TELEMETRY_TRACES_ENABLED = envbool("TELEMETRY_TRACES_ENABLED", True)
TELEMETRY_METRICS_ENABLED = envbool("TELEMETRY_METRICS_ENABLED", True)
TELEMETRY_LOGS_ENABLED = envbool("TELEMETRY_LOGS_ENABLED", True)
# The lowest level of the records sent over OTLP (stdout follows LOG_LEVEL).
TELEMETRY_LOG_LEVEL = envstr("TELEMETRY_LOG_LEVEL", LOG_LEVEL).upper()
# A trace viewer URL with {trace_id} in it (Jaeger: http://host:16686/trace/{trace_id});
# the job admin then links each job to its trace.
TRACE_VIEWER_URL = envstr("TRACE_VIEWER_URL", "")
if TRACE_VIEWER_URL and "{trace_id}" not in TRACE_VIEWER_URL:
    raise ImproperlyConfigured(
        f"TRACE_VIEWER_URL must contain {{trace_id}}, got {TRACE_VIEWER_URL!r}"
    )

# --- HTTPS and cookies: strict by default in production (`manage.py check --deploy` passes).
_production = DEPLOYMENT_ENVIRONMENT == "production"
# Behind a TLS-terminating proxy, set DJANGO_SECURE_PROXY_SSL_HEADER=true.
if envbool("DJANGO_SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = envbool("DJANGO_SECURE_COOKIES", _production)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = envbool("DJANGO_SECURE_SSL_REDIRECT", _production)
# Probes and scrapes come over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
SECURE_HSTS_SECONDS = envint("DJANGO_HSTS_SECONDS", 31536000 if _production else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", _production)
SECURE_HSTS_PRELOAD = envbool("DJANGO_HSTS_PRELOAD", False)
# Preload-listing a domain is a commitment its owner makes, not a default we can choose.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# /metrics answers only with "Authorization: Bearer <token>" when this is set.
METRICS_BEARER_TOKEN = envsecret("METRICS_BEARER_TOKEN")

# --- alerting: rule export, promtool, and the Alertmanager webhook (telemetry).
# Where `manage.py export_alert_rules` writes the rule file Prometheus loads.
ALERT_RULES_FILE = envstr(
    "ALERT_RULES_FILE", str(BASE_DIR / "deploy" / "prometheus" / "rules" / "alert_rules.yml")
)
# promtool checks expressions on save and the exported file; found on PATH when unset.
PROMTOOL_PATH = envstr("PROMTOOL_PATH", "")
# A running Prometheus (with --web.enable-lifecycle) the export can ask to reload; optional.
PROMETHEUS_URL = envstr("PROMETHEUS_URL", "")
# Bearer token Alertmanager sends to /api/telemetry/alertmanager/webhook. Unset: the endpoint
# refuses every call (503) rather than accept alerts from anyone.
ALERTMANAGER_WEBHOOK_TOKEN = envsecret("ALERTMANAGER_WEBHOOK_TOKEN")

# --- profiling runs and admin-steered state (telemetry.control, telemetry.profiling).
# Every process polls a version marker at most once per TELEMETRY_CONTROL_POLL_SECONDS and
# reloads its in-memory snapshot when it moved: in Redis when one is configured (by default
# the Celery broker when it is Redis), else in files under DATA_DIR/control (one machine).
TELEMETRY_CONTROL_ENABLED = envbool("TELEMETRY_CONTROL_ENABLED", True)
TELEMETRY_CONTROL_POLL_SECONDS = envfloat("TELEMETRY_CONTROL_POLL_SECONDS", 1.0, minimum=0.1)
TELEMETRY_CONTROL_REDIS_URL = envstr(
    "TELEMETRY_CONTROL_REDIS_URL",
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else "",
)
PROFILING_ENABLED = envbool("PROFILING_ENABLED", True)
# A run's defaults when its form leaves them empty: 1 in N matching requests/tasks per
# process (bench/profiling_overhead.py measures what that costs), its duration and captures.
PROFILING_DEFAULT_SAMPLE_EVERY = envint("PROFILING_DEFAULT_SAMPLE_EVERY", 50, minimum=1)
PROFILING_DEFAULT_MAX_SECONDS = envint("PROFILING_DEFAULT_MAX_SECONDS", 300, minimum=1)
PROFILING_DEFAULT_MAX_CAPTURES = envint("PROFILING_DEFAULT_MAX_CAPTURES", 200, minimum=1)
# Upper limits an operator may ask for, and the size bounds of what is stored per process.
PROFILING_MAX_SECONDS_LIMIT = envint("PROFILING_MAX_SECONDS_LIMIT", 3600, minimum=1)
PROFILING_MAX_CAPTURES_LIMIT = envint("PROFILING_MAX_CAPTURES_LIMIT", 10000, minimum=1)
PROFILING_MAX_ACTIVE_RUNS = envint("PROFILING_MAX_ACTIVE_RUNS", 5, minimum=1)
PROFILING_MAX_FUNCTIONS = envint("PROFILING_MAX_FUNCTIONS", 2000, minimum=10)
PROFILING_MAX_TRACE_IDS = envint("PROFILING_MAX_TRACE_IDS", 100, minimum=0)
# The first N captures of each process in a run are also kept one by one (per-capture views).
PROFILING_MAX_CAPTURE_PROFILES = envint("PROFILING_MAX_CAPTURE_PROFILES", 10, minimum=0)
# `manage.py prune_profiling_runs` deletes runs that ended longer ago than this.
PROFILING_RETENTION_DAYS = envint("PROFILING_RETENTION_DAYS", 30, minimum=0)
# The trace viewer link of a run's captured trace ids is TRACE_VIEWER_URL (telemetry above).
# Continuous profiling (telemetry.profiling.continuous): every web and worker process samples
# its threads' stacks. The admin's "Continuous profiling" row switches it and sets its rate
# live; without that row these defaults apply (bench/continuous_profiler_overhead.py measures
# what a rate costs).
PROFILING_CONTINUOUS_DEFAULT_ENABLED = envbool("PROFILING_CONTINUOUS_DEFAULT_ENABLED", True)
PROFILING_CONTINUOUS_DEFAULT_HZ = envint("PROFILING_CONTINUOUS_DEFAULT_HZ", 19, minimum=1)
# Stacks are folded per window of this length, and each process writes its open window every
# FLUSH seconds (a killed process loses at most that much).
PROFILING_CONTINUOUS_WINDOW_SECONDS = envint("PROFILING_CONTINUOUS_WINDOW_SECONDS", 60, minimum=5)
PROFILING_CONTINUOUS_FLUSH_SECONDS = envint("PROFILING_CONTINUOUS_FLUSH_SECONDS", 10, minimum=1)
# Bounds: per window row, in all, and per page of the console.
PROFILING_CONTINUOUS_MAX_STACKS = envint("PROFILING_CONTINUOUS_MAX_STACKS", 2000, minimum=10)
PROFILING_CONTINUOUS_MAX_TRACES = envint("PROFILING_CONTINUOUS_MAX_TRACES", 100, minimum=0)
PROFILING_CONTINUOUS_MAX_DEPTH = envint("PROFILING_CONTINUOUS_MAX_DEPTH", 128, minimum=8)
PROFILING_CONTINUOUS_RETENTION_HOURS = envint("PROFILING_CONTINUOUS_RETENTION_HOURS", 24, minimum=1)
PROFILING_CONTINUOUS_MAX_WINDOWS = envint("PROFILING_CONTINUOUS_MAX_WINDOWS", 20000, minimum=10)
PROFILING_CONTINUOUS_MAX_WINDOWS_READ = envint(
    "PROFILING_CONTINUOUS_MAX_WINDOWS_READ", 1500, minimum=1
)
# speedscope's built viewer (npm package, installed by `make install`), served to staff.
PROFILING_SPEEDSCOPE_DIR = envstr(
    "PROFILING_SPEEDSCOPE_DIR", str(BASE_DIR / "node_modules" / "speedscope" / "dist" / "release")
)
# The webhook's status enum (firing/resolved) gets its own name in the OpenAPI schema instead
# of colliding with other "status" fields.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {})["AlertStatusEnum"] = (
    "telemetry.models.AlertStatus.choices"
)
