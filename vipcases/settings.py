"""Settings for vipcases, read from the environment.

Every value has a development default except SECRET_KEY, which production (DEBUG
off) must provide: the app refuses to start without it. Bad values stop the
process with one line naming the variable, never a traceback.
"""

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent


def _fail(message: str) -> None:
    """Stop start-up with one readable line (no traceback)."""
    sys.stderr.write(f"vipcases: configuration error: {message}\n")
    raise SystemExit(2)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    _fail(f"{name} must be true or false, not {value!r}")
    return default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        _fail(f"{name} must be a whole number, not {value!r}")
    return default


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG:
        SECRET_KEY = "development-only-insecure-key"  # noqa: S105 - DEBUG only
    else:
        _fail("SECRET_KEY must be set when DEBUG is off (set DEBUG=true for development)")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_filters",
    "axes",
    "csp",
    "vipcases",
    "offers",
    "triage",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside everything below, so error pages and the lockout page carry the policy too.
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "vipcases.security.SessionLimitMiddleware",
    "vipcases.security.AccessDeniedLogMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "vipcases.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "vipcases.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "vipcases.context_processors.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "vipcases.wsgi.application"

# --- Database -----------------------------------------------------------------
_default_db = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
_database_url = os.environ.get("DATABASE_URL") or _default_db
try:
    _db = dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)
except (ValueError, KeyError) as exc:
    _fail(f"DATABASE_URL is not a valid database URL ({exc})")
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite is the embedded demo default: wait for writers rather than fail.
    _db["OPTIONS"] = {"timeout": 20}
    _db["CONN_MAX_AGE"] = 0
    _db["CONN_HEALTH_CHECKS"] = False
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast when the server is away, so /health/ and pages answer 503 promptly.
    _db.setdefault("OPTIONS", {})["connect_timeout"] = 3
    # Server-side prepared statements, for the one query that asks for them (the intake
    # API's write, offers/intake_sql.py): Django's default (None) disables them even
    # when asked; a threshold no query reaches prepares only what asks. Django's own
    # cursors bind on the client and are never prepared. Prepared statements keep their
    # generic plan rather than being planned again per call; see offers/intake_sql.py.
    _db["OPTIONS"].setdefault("prepare_threshold", 2**31 - 1)
    _db["OPTIONS"]["options"] = " ".join(
        filter(None, [_db["OPTIONS"].get("options"), "-c plan_cache_mode=force_generic_plan"])
    )
DATABASES = {"default": _db}
DATABASE_IS_POSTGRES = _db["ENGINE"] == "django.db.backends.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# AxesStandaloneBackend refuses a locked-out username before ModelBackend checks the
# password; it needs the request, which Django's sign-in form passes to authenticate().
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "case_list"
LOGOUT_REDIRECT_URL = "login"

# --- Time and money -------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = True

# --- Celery -------------------------------------------------------------------
# Unset REDIS_URL means no broker: tasks run in process (the embedded demo default).
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
# A broker outage must never hang a request: give up quickly and let the sweep retry.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "max_retries": 0,
    "socket_connect_timeout": 0.5,
    # A broker that accepts connections but never answers must not hold a request.
    "socket_timeout": float(os.environ.get("CELERY_BROKER_SOCKET_TIMEOUT", "0.5")),
    # How long a task taken by a worker that died unacknowledged waits before Redis
    # hands it to another worker. Tasks are idempotent, so shorter only costs repeats.
    "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "3600")),
    # How often a worker looks for such tasks: every interval × throttle seconds.
    "unacked_restore_interval": int(os.environ.get("CELERY_UNACKED_RESTORE_INTERVAL", "10")),
    "unacked_restore_throttle": int(os.environ.get("CELERY_UNACKED_RESTORE_THROTTLE", "10")),
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# No publish retries: a failed send is left to the sweep rather than holding the request.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 0,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}

# --- Cache, intake API and import ----------------------------------------------
# The API's rate limit counts in the cache: with Redis every web process shares the
# count (a short timeout, so an unreachable Redis never holds a request); without it,
# each process counts alone.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "vipcases",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600)  # per token; 0: none
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1_048_576)
# How long each web process gathers the intake API's new cases before sending them to
# the workers as one task (vipcases.queueing.IdBatcher); 0 sends each batch at once.
INTAKE_TRIAGE_BATCH_MS = env_int("INTAKE_TRIAGE_BATCH_MS", 100)
if INTAKE_TRIAGE_BATCH_MS < 0:
    _fail(f"INTAKE_TRIAGE_BATCH_MS must be 0 or more, not {INTAKE_TRIAGE_BATCH_MS}")
IMPORT_MAX_UPLOAD_BYTES = env_int("IMPORT_MAX_UPLOAD_BYTES", 50 * 1_048_576)
# The API authenticates each request by its bearer token (offers/api.py) and sets no
# cookie: vipcases.wsgi serves /api/ without the middleware that serves signed-in
# browsers (static files, sessions, CSRF, sign-in, messages, session limits, lockout),
# which cost a third of a small request. Everything else in MIDDLEWARE applies to it,
# including any middleware added later (tests/vipcases/test_wsgi_api.py).
API_PATH_PREFIX = "/api/"
API_MIDDLEWARE_SKIPPED = (
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "vipcases.security.SessionLimitMiddleware",
    "axes.middleware.AxesMiddleware",
)
API_MIDDLEWARE = [path for path in MIDDLEWARE if path not in API_MIDDLEWARE_SKIPPED]

# --- Housekeeping (vipcases/housekeeping.py, daily by beat; README "Housekeeping") ----
# Days an Idempotency-Key's answer is replayed; a retry after that with the same key is
# treated as new (a repeated external_ref is still answered with its existing case).
IDEMPOTENCY_KEY_RETENTION_DAYS = env_int("IDEMPOTENCY_KEY_RETENTION_DAYS", 7)
# Days an import's file is kept after its job ended (the row stays: who, which file by
# name and SHA-256, when, counts); an upload never confirmed is deleted this long after.
IMPORT_FILE_RETENTION_DAYS = env_int("IMPORT_FILE_RETENTION_DAYS", 30)
# Days django-axes' record of each sign-in (AccessLog: username, address, times) is kept.
SIGN_IN_LOG_RETENTION_DAYS = env_int("SIGN_IN_LOG_RETENTION_DAYS", 365)
if min(IDEMPOTENCY_KEY_RETENTION_DAYS, IMPORT_FILE_RETENTION_DAYS, SIGN_IN_LOG_RETENTION_DAYS) < 1:
    _fail("the *_RETENTION_DAYS settings must be at least 1")

# --- Email --------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "vipcases@example.gov.uk")

# --- Security -----------------------------------------------------------------
# README "Security" lists these measures; `manage.py check --deploy` passes with no
# warning when DEBUG is off (tests/vipcases/test_security.py runs it).

# HTTPS. Production (DEBUG off) redirects http to https and tells browsers, through
# HSTS, to use nothing else; development serves plain http on 127.0.0.1.
# BEHIND_PROXY: the app sits behind one reverse proxy or load balancer that ends TLS,
# sets X-Forwarded-Proto and appends the client's address to X-Forwarded-For. Only then
# are those headers believed: anywhere else a client could forge them.
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# The container health check calls http://127.0.0.1:8000/health/ from inside.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 60 * 60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
# gov.uk is on the browsers' HSTS preload list already; set false on a domain that is not
# ready to be https-only for good.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content Security Policy (django-csp): nothing inline, nothing from another origin.
# Templates load static/js/app.js and style sheets only; tests/browser checks that no
# page breaks the policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Sessions end after SESSION_IDLE_MINUTES without a request (the cookie and the stored
# session both expire; a request pushes the expiry on if the last push is more than
# SESSION_REFRESH_SECONDS old, so a page costs no session write most of the time) and
# SESSION_MAX_HOURS after sign-in whatever the activity (both in
# vipcases.security.SessionLimitMiddleware).
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30)
SESSION_MAX_HOURS = env_int("SESSION_MAX_HOURS", 12)
if SESSION_IDLE_MINUTES < 1 or SESSION_MAX_HOURS < 1:
    _fail("SESSION_IDLE_MINUTES and SESSION_MAX_HOURS must be at least 1")
SESSION_COOKIE_AGE = SESSION_IDLE_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_REFRESH_SECONDS = 60
SESSION_MAX_AGE_SECONDS = SESSION_MAX_HOURS * 60 * 60

# Sign-in lockout (django-axes): SIGN_IN_FAILURE_LIMIT wrong passwords for one username
# lock that username for SIGN_IN_LOCKOUT_MINUTES, counted from the last failure before
# the lock; tries during the lock neither count nor extend it. Locked by username only,
# never by address: staff share office, VPN and proxy addresses, and one mistyping
# colleague must not lock out a whole team. Why: docs/adr/0006-sign-in-lockout-*.md.
AXES_FAILURE_LIMIT = env_int("SIGN_IN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGN_IN_LOCKOUT_MINUTES", 15))
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_TIME < timedelta(minutes=1):
    _fail("SIGN_IN_FAILURE_LIMIT and SIGN_IN_LOCKOUT_MINUTES must be at least 1")
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "vipcases.security.lockout_response"
AXES_CLIENT_IP_CALLABLE = "vipcases.security.client_ip"
AXES_VERBOSE = False  # vipcases.security logs each sign-in event; no start-up banner
# axes.W006 warns when the lockout leaves out the address, because a lock keyed on
# user agent or cookie alone can be dodged by changing them. Ours is keyed on the
# username alone, which counts every failure for that username from any address and any
# browser; tests/vipcases/test_security.py proves a change of address does not help.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# --- Service ------------------------------------------------------------------
SERVICE_NAME = "PPE offers casework"

# Everything goes to stderr. vipcases.security (sign-ins, failures, lockouts, sign-outs,
# expired sessions, refused pages) is always logged at INFO, whatever LOG_LEVEL says,
# one line per event with its time.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "security": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "security": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "security",
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
        "vipcases.security": {"handlers": ["security"], "level": "INFO", "propagate": False},
    },
}
