"""Parley settings: one module, every choice from the environment.

Without any environment variable Parley runs on the *embedded* profile: SQLite
under ``var/``, an in-process channel layer, eager Celery tasks, private files
under ``var/media`` and database search. Production sets ``DATABASE_URL``,
``REDIS_URL`` and friends (see docs/deployment.md); with ``DEBUG`` off the
process refuses to start on an insecure default.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("PARLEY_VAR_DIR", BASE_DIR / "var"))


def env(name: str, default: str = "") -> str:
    """The variable's value; unset or empty means the default."""
    return os.environ.get(name) or default


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=True)

_INSECURE_SECRET = "parley-embedded-insecure-secret-key-change-me-0123456789"
SECRET_KEY = env("SECRET_KEY", _INSECURE_SECRET)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Message bodies are encrypted at rest (engage/lib/crypto.py). Comma-separated keys of 32
# random bytes in URL-safe base64 (a Fernet key's form): the first encrypts, all decrypt,
# so keys rotate without downtime.
_INSECURE_ENCRYPTION_KEY = "cGFybGV5LWVtYmVkZGVkLWluc2VjdXJlLWtleS0wMDA="
ENCRYPTION_KEYS = env_list("PARLEY_ENCRYPTION_KEYS", _INSECURE_ENCRYPTION_KEY)

# Public base URL, used in links that leave the process (signed file URLs,
# SDK configuration snippets, large-event URLs).
PUBLIC_URL = env("PARLEY_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "oauth2_provider",
    "channels",
    "django_elasticsearch_dsl",
    "engage",
    "chat",
    "guide",
    "byoc",
    "analytics",
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
]

ROOT_URLCONF = "engage.urls"
WSGI_APPLICATION = "engage.wsgi.application"
ASGI_APPLICATION = "engage.asgi.application"

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

# --- Database ---------------------------------------------------------------
# Under ASGI every request runs in a thread of its own, and Django's persistent
# connections would keep one PostgreSQL connection per thread forever. Parley
# therefore uses psycopg's connection pool (CONN_MAX_AGE must stay 0 with it).
DATABASE_URL = env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'parley.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": int(env("DATABASE_POOL_MIN", "2")),
        "max_size": int(env("DATABASE_POOL_MAX", "16")),
        "timeout": float(env("DATABASE_POOL_TIMEOUT", "10")),
    }
    # The pool checks a connection before handing it out (one empty round trip): one the server
    # dropped (a restart, a failover) is replaced instead of failing a request.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# The hottest writes run in the event loop on psycopg async connections, this many per loop (ADR 0006).
PARLEY_LOOP_DATABASE = env_bool("DATABASE_LOOP_WRITES", True)
PARLEY_LOOP_DATABASE_POOL = int(env("DATABASE_LOOP_POOL_MAX", "8"))
PARLEY_LOOP_DATABASE_PREPARE = env_bool("DATABASE_LOOP_PREPARE", True)

# Visitor answers whose messages are large (more stored content than PARLEY_GATEWAY_RENDER_CHARS)
# are read and rendered by this many spawned processes per server process, apart from the
# sockets' loop (docs/visitor-protocol.md, "Large events"); 0 renders them in the socket's worker.
PARLEY_GATEWAY_RENDER_PROCESSES = int(env("PARLEY_GATEWAY_RENDER_PROCESSES", "1"))
PARLEY_GATEWAY_RENDER_CHARS = int(env("PARLEY_GATEWAY_RENDER_CHARS", str(64 * 1024)))

# Presence follows the agent console (docs/console.md, "Presence, capacity and routing"): an
# agent whose console sockets all closed goes offline after this many seconds without one; each
# process touches its open sockets' rows at this interval (three missed: the process stopped).
PARLEY_CONSOLE_OFFLINE_AFTER = float(env("PARLEY_CONSOLE_OFFLINE_AFTER", "60"))
PARLEY_CONSOLE_HEARTBEAT = float(env("PARLEY_CONSOLE_HEARTBEAT", "30"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery ------------------------------------
REDIS_URL = env("REDIS_URL")
# A mailbox holds this many messages before the layer drops for it (and tells it to resync). An
# agent console carries every event of its tenant, a visitor socket only its customer's: the
# console's channels ("console.*") get more room, so a second or two of backlog in a busy
# tenant does not close it (docs/performance.md, "Channel layers").
_LAYER_CAPACITIES: dict[str, object] = {
    "capacity": int(env("CHANNEL_LAYER_CAPACITY", "1000")),
    "channel_capacity": {"console.*": int(env("CHANNEL_LAYER_CONSOLE_CAPACITY", "10000"))},
}
if REDIS_URL:
    # engage.layers.RedisFanoutChannelLayer: local delivery first, one Redis publish per
    # event for the other processes, bounded mailboxes (ADR 0005, docs/performance.md).
    # CHANNEL_LAYER_BACKEND=channels_redis.pubsub.RedisPubSubChannelLayer selects channels-redis.
    _layer_backend = env("CHANNEL_LAYER_BACKEND", "engage.layers.RedisFanoutChannelLayer")
    _layer_config: dict[str, object] = {"hosts": [REDIS_URL], "prefix": env("CHANNEL_LAYER_PREFIX", "parley")}
    if _layer_backend == "engage.layers.RedisFanoutChannelLayer":
        _layer_config.update(_LAYER_CAPACITIES)
    CHANNEL_LAYERS = {"default": {"BACKEND": _layer_backend, "CONFIG": _layer_config}}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", "parley"),
        }
    }
else:
    # One process: engage/layers.py (indexed, bounded, loop-safe); the stock
    # InMemoryChannelLayer walks every channel on each operation.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "engage.layers.InProcessChannelLayer",
            "CONFIG": {**_LAYER_CAPACITIES, "expiry": 60},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# `celery -A engage beat`, one per deployment (docs/deployment.md).
CELERY_BEAT_SCHEDULE = {
    "gateway-sweep": {"task": "chat.tasks.gateway_sweep", "schedule": 3600.0},
    "console-sweep": {"task": "chat.tasks.console_sweep", "schedule": 60.0},
}

# --- Files ------------------------------------------------------------------
# Attachments are private: never served by path, only through signed URLs
# (engage/lib/storage.py). With a bucket configured they go to S3-compatible
# storage and the bucket's own pre-signed URLs are used.
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(VAR_DIR / "media")))
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME")
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
if AWS_STORAGE_BUCKET_NAME:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env("AWS_S3_REGION_NAME") or None,
            "access_key": env("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env("AWS_SECRET_ACCESS_KEY") or None,
            "default_acl": "private",
            "signature_version": "s3v4",
            "querystring_auth": True,
            "querystring_expire": int(env("PARLEY_SIGNED_URL_TTL", "300")),
            "file_overwrite": False,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": None},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
SIGNED_URL_TTL = int(env("PARLEY_SIGNED_URL_TTL", "300"))

# --- Search -----------------------------------------------------------------
ELASTICSEARCH_URL = env("ELASTICSEARCH_URL")
ELASTICSEARCH_DSL = {"default": {"hosts": ELASTICSEARCH_URL or "http://127.0.0.1:9200"}}
# Indexing runs in Celery after commit (chat.tasks), never from model signals.
ELASTICSEARCH_DSL_AUTOSYNC = False
ELASTICSEARCH_DSL_AUTO_REFRESH = False
ELASTICSEARCH_DSL_SIGNAL_PROCESSOR = "django_elasticsearch_dsl.signals.BaseSignalProcessor"
SEARCH_BACKEND = "elasticsearch" if ELASTICSEARCH_URL else "database"

# --- Auth, API --------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/console/"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "oauth2_provider.contrib.rest_framework.OAuth2Authentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "engage.api_errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Parley API",
    "DESCRIPTION": "Agent, integration and BYOC API of Parley.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
}
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": 3600,
    # Follow the OAuth 2.0 Security BCP (RFC 9700) everywhere.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": not DEBUG,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["http", "https"] if DEBUG else ["https"],
    "SCOPES": {"read": "Read conversations", "write": "Write conversations", "byoc": "BYOC middleware"},
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}

# --- Production hardening ---------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    X_FRAME_OPTIONS = "DENY"

    _problems = []
    if SECRET_KEY == _INSECURE_SECRET or len(SECRET_KEY) < 50:
        _problems.append("SECRET_KEY must be set to a random value of at least 50 characters")
    if _INSECURE_ENCRYPTION_KEY in ENCRYPTION_KEYS:
        _problems.append("PARLEY_ENCRYPTION_KEYS must be set (32 random bytes each, URL-safe base64, comma-separated)")
    if not ALLOWED_HOSTS:
        _problems.append("ALLOWED_HOSTS must name the hosts Parley serves")
    if not PUBLIC_URL.startswith("https://") and not env_bool("PARLEY_ALLOW_HTTP"):
        _problems.append("PARLEY_PUBLIC_URL must be an https:// URL")
    if _problems:
        raise ImproperlyConfigured("Refusing to start with DEBUG off: " + "; ".join(_problems))
