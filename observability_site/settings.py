"""Settings, read from the environment. With nothing set, a development instance runs on
SQLite and a filesystem Celery broker under DATA_DIR (./var): no external server needed.

Every variable is listed in the README.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from common.env import (
    envbool,
    envfloat,
    envint,
    envlist,
    envsecret,
    envstr,
    kept_random_secret,
)

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
    return kept_random_secret(DATA_DIR / "secret_key")


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
    # Login attempts: per-account and per-client lockout with an audit log (AXES_* below).
    "axes",
    "users",
    "processing",
    "telemetry",
]

MIDDLEWARE = [
    # First: a chunked request body gets its length before anything reads it.
    "common.chunked_body.ChunkedBodyMiddleware",
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
    # Turns a login refused by axes' lockout into its 429 response (django-axes asks for last).
    "axes.middleware.AxesMiddleware",
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

# axes first: it refuses a locked-out account or client before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

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
    "DEFAULT_SCHEMA_CLASS": "common.openapi.ErrorDocumentingAutoSchema",
    "EXCEPTION_HANDLER": "common.api_errors.exception_handler",
    # JSON with size and depth limits, refusing text that cannot be stored (common.json_parser).
    "DEFAULT_PARSER_CLASSES": [
        "common.json_parser.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Counted in the shared cache (CACHES), so the limits hold across all worker processes;
    # per client address as common.client_address reads it (NUM_PROXIES trusted hops).
    "DEFAULT_THROTTLE_CLASSES": [
        "common.throttles.AnonRateThrottle",
        "common.throttles.UserRateThrottle",
        "common.throttles.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": envstr("API_THROTTLE_ANON", "60/min"),
        "user": envstr("API_THROTTLE_USER", "1200/min"),
        "login": envstr("API_THROTTLE_LOGIN", "10/min"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# --- clients: how many proxies in front of gunicorn append to X-Forwarded-For and can be
# believed. 0 (default): clients reach gunicorn directly, the address is the socket's peer
# and the header is ignored. 1: nginx (compose, Kubernetes) - the header's last entry.
# One rule for the throttles, the login lockout and DRF (common.client_address).
NUM_PROXIES = envint("NUM_PROXIES", 0, minimum=0)
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES
# JSON bodies: at most this many bytes (nginx's client_max_body_size, deploy/nginx) and
# nesting levels (common.json_parser).
API_JSON_MAX_BYTES = envint("API_JSON_MAX_BYTES", 1024 * 1024, minimum=1024)
API_JSON_MAX_DEPTH = envint("API_JSON_MAX_DEPTH", 64, minimum=2)

# --- login attempts (django-axes): after LOGIN_FAILURE_LIMIT failures for one account (from
# anywhere) or from one client address (for any account), further logins - the right
# password too - are refused with 429 for LOGIN_LOCKOUT_MINUTES, on the admin's login form
# and on POST /api/auth/token alike. Every attempt is kept (AccessAttempt, AccessLog,
# AccessFailureLog in the admin under "Axes"): the audit log. A lockout by account can be
# caused by anyone who knows the email: that is the price of stopping a distributed guess
# of one password; the cool-off bounds it, and staff can lift it in the admin.
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = envint("LOGIN_LOCKOUT_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_CLIENT_IP_CALLABLE = "common.client_address.client_address"
# The same account whatever case or width it is typed in (users.models.normalize_email).
AXES_USERNAME_CALLABLE = "users.login.attempted_username"
# The admin's form and POST /api/auth/token both name the email field "username".
AXES_USERNAME_FORM_FIELD = "username"
AXES_LOCKOUT_CALLABLE = "users.login.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# axes' own log lines carry the attempted email: the audit rows keep it, the logs (and so
# the OTLP exporter) must not. Its logger is quiet below ERROR (LOGGING); users.login logs
# each lockout without the email.
AXES_VERBOSE = False

# Any: the overrides below add a nested dict to this flat one.
SPECTACULAR_SETTINGS: dict[str, Any] = {
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
# A Redis that hangs (a partition, not a refusal) must not hold a request: every call waits
# at most CACHE_SOCKET_TIMEOUT, after which the request is a 503 with Retry-After
# (common.api_errors).
CACHE_CONNECT_TIMEOUT = envfloat("CACHE_CONNECT_TIMEOUT", 1.0, minimum=0.01)
CACHE_SOCKET_TIMEOUT = envfloat("CACHE_SOCKET_TIMEOUT", 1.0, minimum=0.01)
if CACHE_URL.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "OPTIONS": {
                "socket_connect_timeout": CACHE_CONNECT_TIMEOUT,
                "socket_timeout": CACHE_SOCKET_TIMEOUT,
            },
        }
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

# --- Celery: the broker needs no server by default (kombu's filesystem transport). The host
# part is for kombu only (it warns "No hostname was supplied" without one); the folders below
# are where the messages live.
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", "filesystem://localhost/")
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
    # A Redis that hangs holds a publish (POST /api/jobs) for at most
    # (1 + publish retries) x CELERY_BROKER_SOCKET_TIMEOUT before the 503. Above the
    # transport's 1 s BRPOP wait, so a worker's idle poll never times out.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_connect_timeout": envfloat("CELERY_BROKER_CONNECT_TIMEOUT", 2.0, minimum=0.1),
        "socket_timeout": envfloat("CELERY_BROKER_SOCKET_TIMEOUT", 2.0, minimum=1.5),
        # A message a worker took and never acknowledged (the whole worker was killed) is
        # handed out again after this long; the job sweeper (processing.sweeper) re-queues
        # the job long before, and the late copy finds it finished and does nothing.
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
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_TASK_DEFAULT_QUEUE = envstr("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_ALWAYS_EAGER = False
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A worker keeps its database connections from task to task (common.worker_connections), as
# the web server keeps them from request to request (CONN_MAX_AGE, CONN_HEALTH_CHECKS).
# Celery's Django fix-up still closes them every this many tasks. 0 restores Celery's
# default: a new connection for every task.
CELERY_DB_REUSE_MAX = envint("CELERY_DB_REUSE_MAX", 1000, minimum=0)
# Celery beat (`celery -A observability_site beat`, one per deployment) sends the job
# sweeper on this schedule: jobs whose worker or message was lost are re-queued or failed.
PROCESSING_SWEEP_INTERVAL_SECONDS = envfloat("PROCESSING_SWEEP_INTERVAL_SECONDS", 30.0, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "sweep-processing-jobs": {
        "task": "processing.sweep_jobs",
        "schedule": PROCESSING_SWEEP_INTERVAL_SECONDS,
        # A sweep that waited longer than an interval in the queue is superseded by the next.
        "options": {"expires": PROCESSING_SWEEP_INTERVAL_SECONDS},
    }
}

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
# Durability of accepted jobs (processing.sweeper, docs in README "Reliability"):
# - a task that meets a database error waits for it, retrying with backoff, this long;
PROCESSING_JOB_DB_WAIT_SECONDS = envfloat("PROCESSING_JOB_DB_WAIT_SECONDS", 60.0, minimum=0)
# - a running job's lease: a job still running this long after its attempt started (its
#   worker was killed, or its last write failed) is re-queued by the sweeper. Longer than
#   any attempt: the downstream timeout, the database wait above, the retry countdown.
PROCESSING_JOB_LEASE_SECONDS = envfloat("PROCESSING_JOB_LEASE_SECONDS", 300.0, minimum=1)
# - a queued job not started this long after it was queued (its message was lost) is
#   queued again. Longer than a normal backlog: an extra message for a job that was only
#   waiting is harmless (the job runs once) but costs a message.
PROCESSING_JOB_QUEUED_TIMEOUT_SECONDS = envfloat(
    "PROCESSING_JOB_QUEUED_TIMEOUT_SECONDS", 3600.0, minimum=1
)
# - attempts (runs started, whatever ended them) after which a job whose worker keeps
#   being lost is failed rather than re-queued again.
PROCESSING_JOB_MAX_ATTEMPTS = envint(
    "PROCESSING_JOB_MAX_ATTEMPTS", PROCESSING_JOB_MAX_RETRIES + 3, minimum=1
)

# --- logging: one JSON object per line on stdout, carrying trace_id/span_id inside a span
# (telemetry.pipeline.log_format). Records also go over OTLP when logs are exported (see below).
# LOG_FORMAT=plain gives the classic one-line text format for reading in a terminal.
LOG_LEVEL = envstr("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = envstr("LOG_FORMAT", "json").lower()
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, got {LOG_FORMAT!r}")
# Celery logs every task's receipt and success at INFO ("Task processing.process_job[...]
# succeeded in 0.01s: <its return value>"): the consumer span already records both, the
# processing app logs each job's own steps, and the return value is the job's result, user
# data copied into the log pipeline. WARNING keeps Celery's failures and rejections (and
# skips building the lines: Celery checks the level once per task type); INFO brings the
# per-task lines back. Each was one of a job's four log records, about 0.65 million
# instructions apiece with telemetry on (docs/overhead.md, round nine).
CELERY_TASK_LOG_LEVEL = envstr("CELERY_TASK_LOG_LEVEL", "WARNING").upper()
if CELERY_TASK_LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured(
        "CELERY_TASK_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, "
        f"got {CELERY_TASK_LOG_LEVEL!r}"
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "telemetry.pipeline.log_format.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"},
    },
    "filters": {
        # Query strings (emails, tokens) out of Django's request records (the request in
        # their extras); the OTLP handler has the same filter (telemetry.pipeline).
        "no_query_strings": {"()": "common.log_filters.RequestQueryFilter"},
    },
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["no_query_strings"],
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # django-axes logs attempted emails at INFO and WARNING (users.login logs lockouts).
        "axes": {"level": "ERROR"},
        # httpx logs every request at INFO ("HTTP Request: POST ..."): the client span and
        # http.client.request.duration already record each call; its warnings still show.
        "httpx": {"level": "WARNING"},
        # Celery's per-task lines (received; succeeded, retried, ignored): see above.
        "celery.app.trace": {"level": CELERY_TASK_LOG_LEVEL},
        "celery.worker.strategy": {"level": CELERY_TASK_LOG_LEVEL},
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
# off: the stock OpenTelemetry parts instead of telemetry.fastpath's (debugging, benchmarks);
# they are used anyway when OpenTelemetry is not the tested version (docs/upstream.md).
TELEMETRY_FAST_PATHS = envbool("TELEMETRY_FAST_PATHS", True)
# Baggage and tracestate entries a caller may pass on through this service (comma-separated
# keys; empty: none - a client's `baggage: user.email=...` goes no further than here).
# telemetry.pipeline.inbound_context.
TELEMETRY_INBOUND_BAGGAGE_KEYS = envlist("TELEMETRY_INBOUND_BAGGAGE_KEYS", [])
TELEMETRY_INBOUND_TRACESTATE_KEYS = envlist("TELEMETRY_INBOUND_TRACESTATE_KEYS", [])
# The lowest level of the records sent over OTLP (stdout follows LOG_LEVEL).
TELEMETRY_LOG_LEVEL = envstr("TELEMETRY_LOG_LEVEL", LOG_LEVEL).upper()
# A trace viewer URL with {trace_id} in it (Jaeger: http://host:16686/trace/{trace_id});
# the job admin then links each job to its trace.
TRACE_VIEWER_URL = envstr("TRACE_VIEWER_URL", "")
if TRACE_VIEWER_URL and "{trace_id}" not in TRACE_VIEWER_URL:
    raise ImproperlyConfigured(
        f"TRACE_VIEWER_URL must contain {{trace_id}}, got {TRACE_VIEWER_URL!r}"
    )

# --- the local telemetry store (telemetry.explorer): every process keeps its finished spans
# and log records for the console (/admin/telemetry/console/: traces, logs, service overview).
# auto: on when no OTLP endpoint is configured (the `make run` default), off when one is.
TELEMETRY_LOCAL_STORE = envstr("TELEMETRY_LOCAL_STORE", "auto").strip().lower() or "auto"
if TELEMETRY_LOCAL_STORE not in ("auto", "on", "off"):
    raise ImproperlyConfigured(
        f"TELEMETRY_LOCAL_STORE must be auto, on or off, got {TELEMETRY_LOCAL_STORE!r}"
    )
# The database alias of the store: by default a SQLite file of its own (WAL, so every
# process writes it at once; apart from the service's database, so its writes never queue
# behind the service's). Or an alias the operator configured, e.g. "default" (PostgreSQL).
TELEMETRY_LOCAL_STORE_DATABASE = envstr("TELEMETRY_LOCAL_STORE_DATABASE", "").strip()
if not TELEMETRY_LOCAL_STORE_DATABASE:
    TELEMETRY_LOCAL_STORE_DATABASE = "telemetry_store"
    DATABASES["telemetry_store"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "telemetry.sqlite3"),
        # The writers wait this long for another process's write; the pages never wait on
        # them (WAL readers see the last commit).
        "OPTIONS": {
            "timeout": 5,
            # The write-ahead log is cut back to 16 MiB after each checkpoint: the store's
            # disk use is its rows' pages (reused once pruned) plus at most that. Reads go
            # through the OS's page cache (mmap): pruning a full store walks its indexes.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA journal_size_limit=16777216; PRAGMA mmap_size=268435456;"
            ),
            "transaction_mode": "IMMEDIATE",
        },
        "CONN_MAX_AGE": 0,
        # Tests get a file too (not SQLite's in-memory default): the writer threads of the
        # test process and the subprocesses of the end-to-end tests write it.
        "TEST": {"NAME": str(DATA_DIR / "test_telemetry.sqlite3")},
    }
elif TELEMETRY_LOCAL_STORE_DATABASE not in DATABASES:
    raise ImproperlyConfigured(
        f"TELEMETRY_LOCAL_STORE_DATABASE must name a configured database alias "
        f"({', '.join(DATABASES)}), got {TELEMETRY_LOCAL_STORE_DATABASE!r}"
    )
# Only the store's models go to its alias (and only they are migrated there).
DATABASE_ROUTERS = ["telemetry.explorer.router.LocalStoreRouter"]
# The bounds: the writers delete the oldest rows beyond these counts, and rows older than
# the age, as they write (never on a request).
TELEMETRY_LOCAL_STORE_MAX_SPANS = envint("TELEMETRY_LOCAL_STORE_MAX_SPANS", 100_000, minimum=100)
TELEMETRY_LOCAL_STORE_MAX_LOG_RECORDS = envint(
    "TELEMETRY_LOCAL_STORE_MAX_LOG_RECORDS", 100_000, minimum=100
)
TELEMETRY_LOCAL_STORE_MAX_AGE_SECONDS = envint(
    "TELEMETRY_LOCAL_STORE_MAX_AGE_SECONDS", 86_400, minimum=60
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

# --- alerting: rules going live in Prometheus, promtool, the webhook (telemetry.alerting).
# docs/alerting.md describes each setting.
# The file the service publishes the rules into, which Prometheus loads (its rule_files):
# saving, enabling, disabling or deleting a rule or an SLO rewrites it and reloads Prometheus.
# Unset: rules are not published (and `export_alert_rules` needs --output). Never the tracked
# deploy/prometheus/rules/alert_rules.yml, the reference export of the seeded rows.
# ALERT_RULES_FILE is its former name, still read when PROMETHEUS_RULES_FILE is unset.
PROMETHEUS_RULES_FILE = envstr("PROMETHEUS_RULES_FILE", envstr("ALERT_RULES_FILE", ""))
if PROMETHEUS_RULES_FILE and not Path(PROMETHEUS_RULES_FILE).is_absolute():
    raise ImproperlyConfigured(
        f"PROMETHEUS_RULES_FILE must be an absolute path, got {PROMETHEUS_RULES_FILE!r}"
    )
# promtool checks expressions on save and each file before it replaces the published one;
# found on PATH when unset.
PROMTOOL_PATH = envstr("PROMTOOL_PATH", "")
# The Prometheus (with --web.enable-lifecycle) that loads PROMETHEUS_RULES_FILE: reloaded on
# every publish, and read for each rule's state and each SLO's error budget.
PROMETHEUS_URL = envstr("PROMETHEUS_URL", "").rstrip("/")
if PROMETHEUS_URL and not PROMETHEUS_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"PROMETHEUS_URL must be an http(s):// URL, got {PROMETHEUS_URL!r}")
# Seconds each call to Prometheus may take (reload, rules, queries) before the admin says
# "Prometheus unreachable": pages and saves wait at most about this long for it.
PROMETHEUS_TIMEOUT = envfloat("PROMETHEUS_TIMEOUT", 3.0, minimum=0.1)
# runbook_url annotations: a rule's runbook page name is appended to this base (the admin
# serves docs/runbooks/<name>.md there); a runbook given as a full URL is used as it is.
ALERT_RUNBOOK_BASE_URL = envstr(
    "ALERT_RUNBOOK_BASE_URL", "http://127.0.0.1:8000/admin/telemetry/alertrule/runbooks/"
)
ALERT_RUNBOOKS_DIR = Path(envstr("ALERT_RUNBOOKS_DIR", str(BASE_DIR / "docs" / "runbooks")))
# Alert events (and rule publications) older than this are deleted automatically; 0 keeps
# them forever. The audit trail is kept.
ALERT_EVENT_RETENTION_DAYS = envint("ALERT_EVENT_RETENTION_DAYS", 90, minimum=0)
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
