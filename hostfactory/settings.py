"""Django settings, read from the environment (and ``.env`` when present) by django-environ.

Every setting and its default is listed in the README; ``.env.example`` shows them all.
"""

import logging
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from hostfactory.logging import JSON_FORMATTER, LOG_FORMATS, PLAIN_FORMAT

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local `.env` (made by `make` with a fresh SECRET_KEY, never committed) fills in what the
# environment does not set; ENV_FILE names another file.
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="insecure-development-key-only-for-DEBUG")
else:
    SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "hostfactory.apps.HostFactoryConfig",
    "templates_app",
    "requests_app",
    "machines_app",
]

MIDDLEWARE = [
    "hostfactory.logging.RequestLogMiddleware",  # first: its one line per request covers all the others
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "hostfactory.acting.ActingMiddleware",  # who acts, for the event history; after the session user
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last: it turns a lockout into the lockout page
]

ROOT_URLCONF = "hostfactory.urls"
WSGI_APPLICATION = "hostfactory.wsgi.application"
ASGI_APPLICATION = "hostfactory.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "hostfactory" / "templates"],
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

# Django's own tables only (users, groups, sessions, tokens, admin log). The aggregates live
# in the repositories below, never in these tables.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Connections are kept between requests (per worker thread) for DATABASE_CONN_MAX_AGE seconds
# (unless DATABASE_URL sets conn_max_age) and checked before reuse, instead of one new
# connection per request; 0 closes each at the end of its request.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# -- Content-Security-Policy on every response (django-csp; docs/security.md "Headers") -------
# Only this site's own files: no inline script or style, no eval, no framing. The admin and
# the Swagger UI (/api/docs/, drf-spectacular-sidecar, the split view) run under it as they are.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# -- Brute force (docs/security.md "Brute force") -------------------------------------------
# Admin logins: django-axes counts failures per user name and, separately, per client address
# (REMOTE_ADDR: behind a proxy, set AXES_IPWARE_* or AXES_CLIENT_IP_CALLABLE); after
# HOSTFACTORY_LOGIN_FAILURE_LIMIT failures within the cool-off, logins are refused (429) until
# the cool-off has passed since the last failure. Lockouts are logged at WARNING by "axes".
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("HOSTFACTORY_LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("HOSTFACTORY_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/hostfactory/locked_out.html"
# API: more failed token authentications than this from one client address within a minute
# are answered 429 with Retry-After (hostfactory/api/authentication.py); a valid token is never
# refused. Counted in Django's cache: per process with the default local-memory cache.
HOSTFACTORY_AUTH_FAILURES_PER_MINUTE = env.int("HOSTFACTORY_AUTH_FAILURES_PER_MINUTE", default=30)
# Seconds each process keeps what a valid API token resolves to (user, permissions), so a Host
# Factory call makes no SQL query (hostfactory/api/token_cache.py). A token revoked or a user
# changed in this process stops at once; in another process within this time. 0: no cache.
HOSTFACTORY_AUTH_CACHE_SECONDS = env.int("HOSTFACTORY_AUTH_CACHE_SECONDS", default=30)
CACHES = {
    "default": env.cache("CACHE_URL", default="locmemcache://"),
    # Always this process's own memory: invalidation clears it whole, and it holds user objects.
    "auth-tokens": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "hostfactory-auth-tokens",
        "OPTIONS": {"MAX_ENTRIES": 1000},
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env.str(
            "STATICFILES_BACKEND",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}

# -- Host Factory storage (storage.md "The facade") --------------------------------------
HOSTFACTORY_STORAGE = {
    "type": env.str("STORAGE_TYPE", default="memory"),
    "region": env.str("DYNAMODB_REGION", default="us-east-1"),
    "profile": env.str("DYNAMODB_PROFILE", default="") or None,
    "host": env.str("DYNAMODB_HOST", default="") or None,
    "tables": {
        "templates": env.str("DYNAMODB_TEMPLATES_TABLE", default="templates"),
        "requests": env.str("DYNAMODB_REQUESTS_TABLE", default="requests"),
        "machines": env.str("DYNAMODB_MACHINES_TABLE", default="machines"),
        "history": env.str("DYNAMODB_HISTORY_TABLE", default="history"),
    },
    "templates_file": env.str("HOSTFACTORY_TEMPLATES_FILE", default="") or None,
}
HOSTFACTORY_REQUEST_TIMEOUT = env.int("HOSTFACTORY_REQUEST_TIMEOUT", default=3600)
HOSTFACTORY_SLOW_STORAGE_MS = env.int("HOSTFACTORY_SLOW_STORAGE_MS", default=200)
HOSTFACTORY_PROVIDER = env.str("HOSTFACTORY_PROVIDER", default="none")
# Seconds GET /api/v1/health/ waits for each of its checks (storage, database) before it
# answers 503 naming the one that hung (docs/security.md "Health").
HOSTFACTORY_HEALTH_CHECK_TIMEOUT = env.float("HOSTFACTORY_HEALTH_CHECK_TIMEOUT", default=2.0)

# Where templates come from (docs/hostfactory.md "Templates source"): "service" (the template
# store, edited over REST, the admin and load_templates) or "hostfactory" (the provider
# instance's conf-dir <instance>prov_templates.json, which the plugin sends).
# Seconds a return's claim on a host holds before its return request exists: longer than any
# call may run (gunicorn's 30 s timeout), so a claim older than this whose return was never
# written was left by a call that died, and counts as none (docs/storage-design.md).
HOSTFACTORY_RETURN_CLAIM_SECONDS = env.float("HOSTFACTORY_RETURN_CLAIM_SECONDS", default=30.0)
# Hosts a return claims within one call (one conditional write each): requestReturnMachines
# claims this many before it answers, and each later poll of the return (and every provision
# pass, without limit) claims the next, so a return of 10,000 hosts answers in seconds.
HOSTFACTORY_RETURN_CLAIMS_PER_CALL = env.int("HOSTFACTORY_RETURN_CLAIMS_PER_CALL", default=100)
# Days an event stays in the history (DynamoDB TTL on the history table; the memory store
# stops showing older ones).
HOSTFACTORY_HISTORY_DAYS = env.int("HOSTFACTORY_HISTORY_DAYS", default=90)
HOSTFACTORY_TEMPLATES_SOURCE = env.str("HOSTFACTORY_TEMPLATES_SOURCE", default="service")

# -- Metrics (docs/operations.md "Metrics") -------------------------------------------------
# The bearer token GET /metrics asks for. Unset: /metrics answers only clients on this host
# (REMOTE_ADDR loopback), so set it whenever a proxy on this host forwards outside traffic.
HOSTFACTORY_METRICS_TOKEN = env.str("HOSTFACTORY_METRICS_TOKEN", default="")

# -- Commands and cloud (sync_machines; README "Settings") ---------------------------------
# Region of the EC2 instances sync_machines describes: AWS_REGION, else DYNAMODB_REGION when
# set; empty means sync_machines needs --region. The EC2 endpoint follows boto3's own
# AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL, credentials its usual chain.
HOSTFACTORY_AWS_REGION = env.str("AWS_REGION", default="") or env.str("DYNAMODB_REGION", default="")
# Attempts per EC2 call (standard retry mode: throttling and connection errors back off).
HOSTFACTORY_AWS_MAX_ATTEMPTS = env.int("AWS_MAX_ATTEMPTS", default=5)

# -- REST API (api.md): token and session authentication, Django's permissions, one exception
# handler, JSON only; OpenAPI 3 by drf-spectacular with Swagger UI from local static files.
REST_FRAMEWORK = {
    # Token first, so an anonymous call is a 401 (with WWW-Authenticate), not a 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "hostfactory.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["hostfactory.api.parsers.JSONParser"],  # DRF's, with a nesting limit
    "EXCEPTION_HANDLER": "hostfactory.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "URL_FORMAT_OVERRIDE": None,
    # The client address is REMOTE_ADDR (X-Forwarded-For is trusted only past this many proxies).
    "NUM_PROXIES": env.int("HOSTFACTORY_NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Host Factory service API",
    "DESCRIPTION": "Templates, requests and machines of IBM Spectrum Symphony Host Factory, and the five "
    "Host Factory operations. Authenticate with `Authorization: Token <key>` "
    "(`manage.py create_plugin_token NAME`) or an admin session.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation documents the errors the exception handler gives (hostfactory/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "hostfactory.api.schema.document_errors",
    ],
    "ENUM_NAME_OVERRIDES": {
        "RequestStatusEnum": "requests_app.domain.REQUEST_STATUSES",
        "MachineStatusEnum": "machines_app.domain.MACHINE_STATUSES",
        "TemplatePriceTypeEnum": "templates_app.domain.PRICE_TYPES",
        "MachinePriceTypeEnum": "machines_app.domain.MACHINE_PRICE_TYPES",
        "HostFactoryRequestStatusEnum": ["running", "complete", "complete_with_error"],
        "HealthCheckStateEnum": "hostfactory.api.health.CHECK_STATES",
    },
}

# -- Limits (README "Limits and hardening") ------------------------------------------------
# Largest request body, in bytes: a bigger one is a 413 before it is parsed. 10,000 hosts
# with full EC2 DNS names (the protocol's largest list) are about 1 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2 * 1024 * 1024)
# Deepest nesting of arrays and objects in a JSON body (hostfactory/api/parsers.py); deeper is a 400.
HOSTFACTORY_JSON_MAX_DEPTH = env.int("HOSTFACTORY_JSON_MAX_DEPTH", default=64)

# -- Provisioning (HOSTFACTORY_PROVIDER=aws; ``manage.py provision``; README "AWS provisioning") ---
# Seconds between two passes of ``manage.py provision`` without --once.
HOSTFACTORY_PROVISION_INTERVAL = env.int("HOSTFACTORY_PROVISION_INTERVAL", default=30)
# Seconds between two runs of ``manage.py sync_machines`` as scheduled (cron: */5). The
# console flags a pass stale once it is three intervals old.
HOSTFACTORY_SYNC_INTERVAL = env.int("HOSTFACTORY_SYNC_INTERVAL", default=300)
# Seconds after which a claimed request with no launch recorded (its provisioner died) is
# taken over by another run, which first looks for what was launched before launching.
HOSTFACTORY_PROVISION_CLAIM_TIMEOUT = env.int("HOSTFACTORY_PROVISION_CLAIM_TIMEOUT", default=600)

# -- Logging: to stderr, one line per request; nothing sensitive is logged (docs/operations.md "Logs")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# plain (the default) or json: one JSON object per line, with the request's id, user, operation
# and duration on its access line (hostfactory/logging.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain").strip().lower()
if LOG_FORMAT not in LOG_FORMATS:
    raise ImproperlyConfigured(f"LOG_FORMAT must be {' or '.join(LOG_FORMATS)}, got {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": PLAIN_FORMAT}, "json": JSON_FORMATTER},
    "filters": {
        "request": {"()": "hostfactory.logging.RequestContextFilter"},
        "response_already_logged": {"()": "hostfactory.logging.ResponseAlreadyLogged"},
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request"]}},
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        # Django's records go to the one handler only (not also to its DEBUG console); its
        # lines about a response repeat the access line, so each request is logged once.
        "django": {"handlers": [], "propagate": True},
        "django.request": {"filters": ["response_already_logged"]},
        "django.server": {"handlers": ["stderr"], "filters": ["response_already_logged"], "propagate": False},
        "botocore": {"level": "WARNING"},
        "pynamodb": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # lockouts are warnings; its start-up banner is not needed
    },
}
if LOG_FORMAT == "json":
    logging.captureWarnings(True)  # a Python warning is a record too, so every line stays JSON

# -- Production hardening (``manage.py check --deploy`` is clean when DEBUG is off) ----------
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
