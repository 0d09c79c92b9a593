"""Settings: every value comes from the environment (django-environ, strict parsing).

APP_ENV selects the defaults: `local` (make run) and `test` (make test) have working defaults
for everything; `production` (the default) has none for secrets, so a missing one stops start-up
with a message naming the variable.
"""

from __future__ import annotations

import sys
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_env_file = env.str("DJANGO_ENV_FILE", default="")
if _env_file:
    environ.Env.read_env(BASE_DIR / _env_file)

APP_ENV = env.str("APP_ENV", default="production")
if APP_ENV not in {"local", "test", "production"}:
    raise ImproperlyConfigured(f"APP_ENV must be local, test or production, not {APP_ENV!r}")
IS_PRODUCTION = APP_ENV == "production"


def _secret(name: str, dev_default: str) -> str:
    """A secret: required in production, a fixed development value elsewhere."""
    if IS_PRODUCTION and not env.str(name, default=""):
        raise ImproperlyConfigured(f"Set the {name} environment variable (required in production).")
    return env.str(name, default=dev_default)


def _bool(name: str, default: bool) -> bool:
    """Strict boolean: anything but true/false/1/0/yes/no is an error, not False."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), not {raw!r}")


DEBUG = _bool("DEBUG", default=APP_ENV == "local")
SECRET_KEY = _secret("SECRET_KEY", "dev-only-insecure-secret-key-change-me-0123456789")
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS", default=[] if IS_PRODUCTION else ["127.0.0.1", "localhost", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

# Fernet key(s) for secrets stored in the database; the first encrypts, all decrypt (rotation).
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS",
    default=[] if IS_PRODUCTION else ["bG9jYWwtZGV2ZWxvcG1lbnQta2V5LW5vdC1zZWNyZXQ="],
)
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("Set the FIELD_ENCRYPTION_KEYS environment variable (Fernet keys).")

INSTALLED_APPS = [
    "config.admin_site.HopsbillAdminConfig",  # django.contrib.admin with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "djstripe",
    "axes",
    "accounts",
    "billing",
    "usage",
    "clusters",
    "webhooks",
    "jobs",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

if IS_PRODUCTION:
    # Static files from the web process itself: what collectstatic wrote (compressed copies,
    # hashed names cached for a year). `make run` serves them through runserver instead.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

_default_db = {
    "local": f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
    "test": "postgres://postgres@127.0.0.1:5432/hopsbill",
    "production": "",
}[APP_ENV]
if IS_PRODUCTION and not env.str("DATABASE_URL", default=""):
    raise ImproperlyConfigured(
        "Set the DATABASE_URL environment variable (required in production)."
    )
DATABASES = {"default": env.db("DATABASE_URL", default=_default_db)}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/billing/"
LOGOUT_REDIRECT_URL = "/"

# django-axes: lock a username+IP out after repeated failed logins (login page and admin).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# The login forms post `username` (holding the email); axes would otherwise look for `email`
# (USERNAME_FIELD), find nothing and count every failure against no user at all.
AXES_USERNAME_FORM_FIELD = "username"
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_ENABLED = _bool("AXES_ENABLED", default=APP_ENV != "test")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Day boundaries for usage and billing (an IANA zone name).
BILLING_TIME_ZONE = env.str("BILLING_TIME_ZONE", default="UTC")

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Production serves what `collectstatic` (the Procfile's release step) wrote: gzip/brotli copies
# and content-hashed names. Elsewhere the plain storage, so no collectstatic is needed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

ADMIN_URL = env.str("ADMIN_URL", default="admin/").strip("/") + "/"

EMAIL_CONFIG = env.email_url(
    "EMAIL_URL",
    default="smtp://localhost:25" if IS_PRODUCTION else "consolemail://",
)
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@hopsbill.local")

# --- Billing rules -------------------------------------------------------------------------
BILLING_CURRENCY = env.str("BILLING_CURRENCY", default="usd").lower()
# Global switch for prepaid billing; each account still needs its own opt-in by staff.
PREPAID_FEATURE_ENABLED = _bool("PREPAID_FEATURE_ENABLED", default=True)
# The default low-balance alert threshold of a prepaid account (each user may set their own).
LOW_BALANCE_THRESHOLD_CENTS = env.int("LOW_BALANCE_THRESHOLD_CENTS", default=1000)
# Today's spend estimate counts as stale (possibly low) when no sampler pass refreshed it
# for this long (the sampler runs every 5 minutes).
SPEND_ESTIMATE_STALE_MINUTES = env.int("SPEND_ESTIMATE_STALE_MINUTES", default=15)
# The billing page's panels are cached under a key that changes with every ledger posting and
# usage (re)collection (billing.portal.selectors.page_version); 0 turns the cache off.
BILLING_PAGE_CACHE_SECONDS = env.int("BILLING_PAGE_CACHE_SECONDS", default=300)
CREDIT_MIN_AMOUNT_CENTS = env.int("CREDIT_MIN_AMOUNT_CENTS", default=500)
CREDIT_MAX_AMOUNT_CENTS = env.int("CREDIT_MAX_AMOUNT_CENTS", default=1_000_000)
# Collecting: an unpaid postpaid invoice gets this many days of grace (reminders on day 0, day
# 3 and the last day) before the account is suspended; a prepaid balance may stay below zero
# this many hours.
DUNNING_GRACE_DAYS = env.int("DUNNING_GRACE_DAYS", default=7)
PREPAID_ARREARS_GRACE_HOURS = env.int("PREPAID_ARREARS_GRACE_HOURS", default=24)
# Largest single ledger posting (grant, adjustment, usage) accepted from any door.
LEDGER_MAX_AMOUNT_CENTS = env.int("LEDGER_MAX_AMOUNT_CENTS", default=10_000_000)

# --- Outside systems -------------------------------------------------------------------------
CRON_SECRET = env.str("CRON_SECRET", default="" if IS_PRODUCTION else "dev-cron-secret")

STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
# Lookup keys of the metered prices on a postpaid subscription (setup_stripe creates them).
STRIPE_METERED_PRICE_LOOKUP_KEYS = env.list(
    "STRIPE_METERED_PRICE_LOOKUP_KEYS",
    default=["hopsbill_usage_cents"],
)
# One sum meter: a postpaid usage day is sent as its cost in cents (billing/services/stripe_sync.py)
STRIPE_METER_EVENT_NAME = env.str("STRIPE_METER_EVENT_NAME", default="hopsbill_usage_cents")
# The customer portal configuration `setup_stripe` prints; blank: the account's default one.
STRIPE_PORTAL_CONFIGURATION_ID = env.str("STRIPE_PORTAL_CONFIGURATION_ID", default="")
# Mirror Customers, Subscriptions and Invoices into dj-stripe's tables from webhooks.
STRIPE_MIRROR_ENABLED = _bool("STRIPE_MIRROR_ENABLED", default=True)
# dj-stripe's name for the API base (its mirror calls go to the same place as ours); only set
# for a non-default base, as dj-stripe warns about it otherwise.
if STRIPE_API_BASE != "https://api.stripe.com":
    STRIPE_API_HOST = STRIPE_API_BASE
# dj-stripe reads these names.
STRIPE_LIVE_MODE = _bool("STRIPE_LIVE_MODE", default=False)
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
DJSTRIPE_USE_NATIVE_JSONFIELD = True

AUTH0_DOMAIN = env.str("AUTH0_DOMAIN", default="")
AUTH0_CLIENT_ID = env.str("AUTH0_CLIENT_ID", default="")
AUTH0_CLIENT_SECRET = env.str("AUTH0_CLIENT_SECRET", default="")
AUTH0_WEBHOOK_SECRET = env.str("AUTH0_WEBHOOK_SECRET", default="")
# Auth0 login (OpenID Connect, authorization code flow) only when all three are set; otherwise
# Django's own login page with the local users.
AUTH0_LOGIN_ENABLED = bool(AUTH0_DOMAIN and AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET)
if AUTH0_LOGIN_ENABLED:
    INSTALLED_APPS.append("mozilla_django_oidc")
    AUTHENTICATION_BACKENDS.insert(1, "accounts.auth.Auth0Backend")
    _auth0 = f"https://{AUTH0_DOMAIN.removeprefix('https://').rstrip('/')}"
    OIDC_RP_CLIENT_ID = AUTH0_CLIENT_ID
    OIDC_RP_CLIENT_SECRET = AUTH0_CLIENT_SECRET
    OIDC_RP_SIGN_ALGO = "RS256"
    OIDC_RP_SCOPES = "openid email profile"
    OIDC_OP_AUTHORIZATION_ENDPOINT = f"{_auth0}/authorize"
    OIDC_OP_TOKEN_ENDPOINT = f"{_auth0}/oauth/token"
    OIDC_OP_USER_ENDPOINT = f"{_auth0}/userinfo"
    OIDC_OP_JWKS_ENDPOINT = f"{_auth0}/.well-known/jwks.json"
    OIDC_TIMEOUT = 10
    LOGIN_URL = "oidc_authentication_init"

HOPSWORKS_CONNECT_TIMEOUT = env.float("HOPSWORKS_CONNECT_TIMEOUT", default=5.0)
HOPSWORKS_READ_TIMEOUT = env.float("HOPSWORKS_READ_TIMEOUT", default=30.0)
# Retries of safe reads (GET) on connection errors and 502/503/504, with exponential backoff.
HOPSWORKS_GET_RETRIES = env.int("HOPSWORKS_GET_RETRIES", default=2)
HOPSWORKS_RETRY_BACKOFF = env.float("HOPSWORKS_RETRY_BACKOFF", default=0.5)
# Signup provisioning retries (Celery): base * 2^n seconds, capped; then staff retry by hand.
PROVISIONING_RETRY_BASE_SECONDS = env.float("PROVISIONING_RETRY_BASE_SECONDS", default=30.0)
PROVISIONING_RETRY_MAX_SECONDS = env.float("PROVISIONING_RETRY_MAX_SECONDS", default=3600.0)
PROVISIONING_MAX_RETRIES = env.int("PROVISIONING_MAX_RETRIES", default=14)
# Suspension runs retry like provisioning (same backoff); after this many the beat sweeper
# keeps queueing them every 10 minutes.
SUSPENSION_MAX_RETRIES = env.int("SUSPENSION_MAX_RETRIES", default=10)
KUBE_REQUEST_TIMEOUT = env.float("KUBE_REQUEST_TIMEOUT", default=30.0)
KUBE_PAGE_SIZE = env.int("KUBE_PAGE_SIZE", default=500)
PROMETHEUS_CONNECT_TIMEOUT = env.float("PROMETHEUS_CONNECT_TIMEOUT", default=5.0)
PROMETHEUS_READ_TIMEOUT = env.float("PROMETHEUS_READ_TIMEOUT", default=60.0)
# Pod rows older than this are deleted; days older than this can no longer be (re)collected.
USAGE_POD_RETENTION_DAYS = env.int("USAGE_POD_RETENTION_DAYS", default=62)

# --- Redis: cache, sessions, Celery ----------------------------------------------------------
if IS_PRODUCTION and not env.str("REDIS_URL", default=""):
    raise ImproperlyConfigured("Set the REDIS_URL environment variable (required in production).")
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
# Production: one cache shared by every web process and host, on Redis. A Redis outage makes the
# cache miss (IGNORE_EXCEPTIONS) instead of failing the request. Local and test: per-process memory.
_redis_cache = {
    "BACKEND": "django_redis.cache.RedisCache",
    "LOCATION": REDIS_URL,
    "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2, "IGNORE_EXCEPTIONS": True},
}
_locmem_cache = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
_cache = _redis_cache if IS_PRODUCTION else _locmem_cache
CACHES = {
    "default": {
        **_cache,
        "BACKEND": env.str("CACHE_BACKEND", default=_cache["BACKEND"]),
        "LOCATION": env.str("CACHE_LOCATION", default=_cache.get("LOCATION", "hopsbill")),
    }
}
# Sessions read from the cache, written through to the database (a cache flush logs nobody out).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# /readyz answers 503 when the oldest unprocessed webhook event, or the most overdue pending or
# waiting provisioning run, is older than this (0: age reported, never a failure).
READYZ_WEBHOOK_MAX_AGE_SECONDS = env.int("READYZ_WEBHOOK_MAX_AGE_SECONDS", default=900)
READYZ_PROVISIONING_MAX_AGE_SECONDS = env.int("READYZ_PROVISIONING_MAX_AGE_SECONDS", default=3600)
# A stored Stripe event a worker has not processed this long after it arrived (or after the
# sweeper last sent it) is sent again by the sweeper (broker down, worker died).
WEBHOOK_SWEEP_AFTER_SECONDS = env.int("WEBHOOK_SWEEP_AFTER_SECONDS", default=60)
# A failing Stripe event is tried this many times in all (1 min apart, doubling, at most 6 h);
# then it waits for staff (`replay_stripe_events --failed`).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=10)

# --- Celery ------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = _bool("CELERY_TASK_ALWAYS_EAGER", default=APP_ENV == "local")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = BILLING_TIME_ZONE
# Requests publish through jobs.services: one attempt, this connect/socket timeout (s).
TASK_SEND_TIMEOUT_SECONDS = min(env.float("TASK_SEND_TIMEOUT_SECONDS", default=1.0), 1.0)
# The Redis result backend retries 20 times (about 19 s) when Redis is down; results are only
# informational here, so give up at once instead of holding a worker or a request.
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"retry_policy": {"max_retries": 0}}
CELERY_BEAT_SCHEDULE = {
    # Sends what a broker outage left pending (jobs.PendingTask); safe to run twice at once.
    "pending-tasks-sweep": {
        "task": "jobs.tasks.sweep_pending_tasks",
        "schedule": crontab(minute="*"),
        "options": {"expires": 50},
    },
    # Resends the Stripe events stored but not processed in time; safe to run twice at once.
    "stripe-events-sweep": {
        "task": "webhooks.tasks.sweep_stripe_events",
        "schedule": crontab(minute="*"),
        "options": {"expires": 50},
    },
    "expire-credits": {
        "task": "billing.tasks.expire_credits",
        "schedule": crontab(minute=15, hour=1),
        "options": {"expires": 3600},
    },
    "provisioning-resume-stale": {
        "task": "accounts.tasks.provisioning_resume_stale",
        "schedule": crontab(minute="*/10"),
        "options": {"expires": 600},
    },
    "suspension-resume-stale": {
        "task": "accounts.tasks.suspension_resume_stale",
        "schedule": crontab(minute="*/10"),
        "options": {"expires": 600},
    },
    "suspension-sweep": {
        "task": "accounts.tasks.suspension_sweep",
        "schedule": crontab(minute="*/15"),
        "options": {"expires": 900},
    },
    "dunning-reminders": {
        "task": "billing.tasks.dunning_reminders",
        "schedule": crontab(minute=5),
        "options": {"expires": 3600},
    },
    "usage-sample": {
        "task": "usage.tasks.sample_usage",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 240},
    },
    "usage-collect": {
        "task": "usage.tasks.collect_usage",
        "schedule": crontab(minute=0, hour=2),
        "options": {"expires": 6 * 3600},
    },
    # After the collection: charge prepaid days it left uncharged (safe to run twice).
    "catch-up-deductions": {
        "task": "usage.tasks.catch_up_deductions",
        "schedule": crontab(minute=30, hour=4),
        "options": {"expires": 3 * 3600},
    },
    # After the 02:00 usage collection; runs again are harmless (sent days are skipped).
    "sync-stripe-usage": {
        "task": "billing.tasks.sync_stripe_usage",
        "schedule": crontab(minute=0, hour=3),
        "options": {"expires": 3 * 3600},
    },
}

# --- API -----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "config.api_errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Hopsbill API",
    "DESCRIPTION": "Billing for managed Hopsworks clusters.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from static files (drf-spectacular-sidecar): no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security (production) ---------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = IS_PRODUCTION
CSRF_COOKIE_SECURE = IS_PRODUCTION
SECURE_SSL_REDIRECT = _bool("SECURE_SSL_REDIRECT", default=IS_PRODUCTION)
# Load balancers probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if IS_PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = IS_PRODUCTION
SECURE_HSTS_PRELOAD = IS_PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Operator commands (manage.py anything but runserver) keep library chatter off the terminal:
# the django-axes start-up banner and urllib3's retry warnings. The command prints its own
# report; the web and worker processes still log library warnings.
OPERATOR_COMMAND = Path(sys.argv[0]).name == "manage.py" and sys.argv[1:2] != ["runserver"]
_library_level = "ERROR" if OPERATOR_COMMAND else "WARNING"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's default config gives `django` its own console handler; records then printed
        # twice (that handler and the root's). Here they only propagate to the root.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": _library_level},
        "urllib3": {"level": _library_level},
        "kubernetes": {"level": _library_level},
    },
}
