"""Django settings for Container Svc, read from the environment with embedded defaults.

Defaults run one node with nothing but Python and a Docker engine: SQLite in the data directory and the
in-memory channel layer. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis for several processes.
"""

import os
import secrets
import socket
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


DATA_DIR = Path(os.environ.get("CONTAINERSVC_DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
BUILD_ROOT = Path(os.environ.get("CONTAINERSVC_BUILD_ROOT", DATA_DIR / "builds")).resolve()
BUILD_ROOT.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """Use SECRET_KEY when given; otherwise keep one generated key in the data directory."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# Websockets accept browsers from the origin they are served on (scheme, host in ALLOWED_HOSTS, port) and
# from these exact origins (e.g. "https://dashboard.example:8443"); cookies are per site, not per port.
CONTAINERSVC_TRUSTED_ORIGINS = env_list("CONTAINERSVC_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the API browser's own static files: no CDN
    "channels",
    "containersvc.apps.ContainerSvcConfig",
    "dashboard",
]

# WhiteNoise is the one middleware that runs only synchronously, so under ASGI it goes last: then Django
# runs the whole chain in one worker thread. Above the others, each of them would run in async mode and
# switch threads for every process_request/process_response (16 switches per API request instead of 6).
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "containersvc.security_headers.SecurityHeadersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "containersvc.logins.LoginLockoutMiddleware",  # a locked-out login answers 429 with a page
    "whitenoise.middleware.WhiteNoiseMiddleware",
]

ROOT_URLCONF = "containersvc.urls"
ASGI_APPLICATION = "containersvc.asgi.application"

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
                "dashboard.context_processors.engine_banner",
                "dashboard.context_processors.alert_banner",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'containersvc.sqlite3'}",
        # Requests run on kept threads (containersvc/http_handler.py): each keeps its connection this long, and
        # checks it before reusing it, so a database that went away and came back is found again.
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the producers' threads write while requests read; the timeout waits out short locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too (request and producer threads each hold a connection), one per test process.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

if REDIS_URL := os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 500},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 500}}}

# Failed-login lockouts and request rates are counted in the "throttle" cache, shared by every process: the
# database (the table is made by a migration) or Redis when REDIS_URL is set.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "throttle": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "containersvc_throttle_cache",
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    )
    # The database cache's incr writes a key again with TIMEOUT: counters then set their own expiry, or are per
    # window, so it only bounds how long a key is kept.
    | {"KEY_PREFIX": "containersvc.throttle", "TIMEOUT": 24 * 3600},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Django's, refusing locked-out usernames and addresses before hashing a password.
AUTHENTICATION_BACKENDS = ["containersvc.logins.LockoutModelBackend"]
# The first admin, created at migrate and at start when no user has this name (scripts, containers); without
# them, a server started with no superuser prints a one-time setup link instead.
CONTAINERSVC_ADMIN_USERNAME = os.environ.get("CONTAINERSVC_ADMIN_USERNAME", "").strip()
CONTAINERSVC_ADMIN_PASSWORD = os.environ.get("CONTAINERSVC_ADMIN_PASSWORD", "")
LOGIN_URL = "/login/"  # the dashboard's own login: the admin one admits staff only
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# WhiteNoise serves static files from where they live (static/ and the apps'), collected or not, so that
# `daphne containersvc.asgi:application` started by hand serves the same CSS and JS as make run. There is no
# build step and no hashed names: a collected copy would only be one more thing to go stale.
WHITENOISE_USE_FINDERS = True

# Request bodies: the run API needs little; builds send a path, not a tarball.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("CONTAINERSVC_MAX_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if env_bool("CONTAINERSVC_HTTPS"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "containersvc.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["containersvc.api.permissions.HasRequiredScope"],
    "DEFAULT_RENDERER_CLASSES": ["containersvc.api.renderers.OrjsonRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "containersvc.api.schema.ContainerSvcSchema",
    "EXCEPTION_HANDLER": "containersvc.api.exceptions.error_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_THROTTLE_CLASSES": ["containersvc.api.throttles.TokenRateThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Container Svc",
    "DESCRIPTION": "Runs and watches the Docker containers of one node (1Backend Container Svc compatible).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "BuildStatusEnum": "containersvc.models.BuildStatus",
        "PullStatusEnum": "containersvc.models.PullStatus",
        "StatsPointFieldEnum": "containersvc.api.views.stats.POINT_KEYS",
    },
    # The shapes sockets send that no operation answers are declared too (containersvc/api/socket_shapes.py).
    "POSTPROCESSING_HOOKS": [
        "containersvc.api.socket_shapes.socket_shapes_declared",
        "drf_spectacular.hooks.postprocess_schema_enums",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

# --- Container Svc ---------------------------------------------------------------------------------------
CONTAINERSVC_NODE_ID = os.environ.get("CONTAINERSVC_NODE_ID") or socket.gethostname()
# Where docker-py connects; DOCKER_HOST as the Docker CLI reads it.
CONTAINERSVC_DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
# Seconds any single engine call may take before the API answers 504.
CONTAINERSVC_ENGINE_TIMEOUT = env_float("CONTAINERSVC_ENGINE_TIMEOUT", 30)
# Seconds to wait for a registry pull or one line of build output.
CONTAINERSVC_PULL_TIMEOUT = env_float("CONTAINERSVC_PULL_TIMEOUT", 600)
# Seconds a container gets to stop before it is killed, and the most a caller may ask for.
CONTAINERSVC_STOP_TIMEOUT = env_int("CONTAINERSVC_STOP_TIMEOUT", 10)
CONTAINERSVC_STOP_TIMEOUT_MAX = env_int("CONTAINERSVC_STOP_TIMEOUT_MAX", 120)
# Published ports bind here, never on every interface by default.
CONTAINERSVC_PUBLISH_INTERFACE = os.environ.get("CONTAINERSVC_PUBLISH_INTERFACE", "127.0.0.1")
# Host ports below 1024 are privileged: only superusers may publish on them unless this allows everyone.
CONTAINERSVC_ALLOW_LOW_PORTS = env_bool("CONTAINERSVC_ALLOW_LOW_PORTS")
# The address other containers reach published ports on (GET /container-svc/host).
CONTAINERSVC_HOST_ADDRESS = os.environ.get("CONTAINERSVC_HOST_ADDRESS", "")
# Asset downloads: loopback and private addresses are refused unless allowed.
CONTAINERSVC_ASSETS_ALLOW_PRIVATE = env_bool("CONTAINERSVC_ASSETS_ALLOW_PRIVATE")
CONTAINERSVC_ASSET_MAX_BYTES = env_int("CONTAINERSVC_ASSET_MAX_BYTES", 20 * 1024**3)
CONTAINERSVC_ASSET_TIMEOUT = env_float("CONTAINERSVC_ASSET_TIMEOUT", 60)
# Alert webhooks: the same address rules as asset downloads (loopback and private refused unless allowed);
# seconds one POST may take, and how many may wait to be sent (more are dropped, and the audit trail says so).
CONTAINERSVC_ALERT_WEBHOOK_ALLOW_PRIVATE = env_bool("CONTAINERSVC_ALERT_WEBHOOK_ALLOW_PRIVATE")
CONTAINERSVC_ALERT_WEBHOOK_TIMEOUT = env_float("CONTAINERSVC_ALERT_WEBHOOK_TIMEOUT", 10)
CONTAINERSVC_ALERT_WEBHOOK_QUEUE = env_int("CONTAINERSVC_ALERT_WEBHOOK_QUEUE", 100)
# Registry hosts (host[:port] as written in image references) pulled from even on loopback or private
# addresses; any other registry on such an address is refused before the engine is asked.
CONTAINERSVC_ALLOWED_REGISTRIES = env_list("CONTAINERSVC_ALLOWED_REGISTRIES", "")
# Stored build output beyond this is cut, with a note saying so.
CONTAINERSVC_BUILD_OUTPUT_MAX_BYTES = env_int("CONTAINERSVC_BUILD_OUTPUT_MAX_BYTES", 16 * 1024**2)
# Seconds a build may run before it is stopped and marked failed ("timed out after N s").
CONTAINERSVC_BUILD_TIMEOUT = env_float("CONTAINERSVC_BUILD_TIMEOUT", 3600)
# Lines captured from the engine into one stored log chunk.
CONTAINERSVC_LOG_CHUNK_LINES = env_int("CONTAINERSVC_LOG_CHUNK_LINES", 500)
# GPU sampler: seconds between NVML samples while someone watches, and the most one NVML read may take
# before the last reading is served marked stale.
CONTAINERSVC_GPU_SAMPLE_SECONDS = env_float("CONTAINERSVC_GPU_SAMPLE_SECONDS", 1)
CONTAINERSVC_GPU_NVML_TIMEOUT = env_float("CONTAINERSVC_GPU_NVML_TIMEOUT", 2)
# Always-on producers (the events follower keeping the mirror, log capture): "auto" starts them in the
# server process only (daphne, runserver), so that tests and management commands importing the ASGI
# app never start threads against a database; "1" or "0" decide explicitly.
CONTAINERSVC_PRODUCERS = os.environ.get("CONTAINERSVC_PRODUCERS", "auto").strip().lower()
# One process per node and producer role (stats history, log capture) does the storing work: it holds a lease
# of LEASE_SECONDS in the database, renewed every LEASE_RENEW_SECONDS; the others stand by and take over when
# it ends (released at a clean stop, or expired).
CONTAINERSVC_LEASE_SECONDS = env_float("CONTAINERSVC_LEASE_SECONDS", 15)
CONTAINERSVC_LEASE_RENEW_SECONDS = env_float("CONTAINERSVC_LEASE_RENEW_SECONDS", 5)
# Captured lines wait at most this many seconds before they are stored (a chunk fills first when busy).
CONTAINERSVC_LOG_CAPTURE_FLUSH_SECONDS = env_float("CONTAINERSVC_LOG_CAPTURE_FLUSH_SECONDS", 0.5)
# Stored log retention, oldest chunks deleted first: per container, and for all containers of this node.
CONTAINERSVC_LOG_RETENTION_CONTAINER_BYTES = env_int("CONTAINERSVC_LOG_RETENTION_CONTAINER_BYTES", 64 * 1024**2)
CONTAINERSVC_LOG_RETENTION_TOTAL_BYTES = env_int("CONTAINERSVC_LOG_RETENTION_TOTAL_BYTES", 4 * 1024**3)
# Seconds between checks of the node-wide bound (the per-container one is checked as lines are stored).
CONTAINERSVC_LOG_RETENTION_CHECK_SECONDS = env_float("CONTAINERSVC_LOG_RETENTION_CHECK_SECONDS", 60)
# Failed password logins: after LIMIT failures, each within WINDOW seconds of the one before, the username and
# the address are refused for COOL_OFF seconds. Wrong bearer tokens likewise, per address. API requests per
# token (or per session user): "N/s", "N/min", "N/hour". Beyond any of them: 429 with Retry-After.
CONTAINERSVC_LOGIN_FAILURE_LIMIT = env_int("CONTAINERSVC_LOGIN_FAILURE_LIMIT", 5)
CONTAINERSVC_LOGIN_FAILURE_WINDOW_SECONDS = env_float("CONTAINERSVC_LOGIN_FAILURE_WINDOW_SECONDS", 15 * 60)
CONTAINERSVC_LOGIN_COOL_OFF_SECONDS = env_float("CONTAINERSVC_LOGIN_COOL_OFF_SECONDS", 15 * 60)
CONTAINERSVC_BEARER_FAILURE_LIMIT = env_int("CONTAINERSVC_BEARER_FAILURE_LIMIT", 20)
CONTAINERSVC_BEARER_FAILURE_WINDOW_SECONDS = env_float("CONTAINERSVC_BEARER_FAILURE_WINDOW_SECONDS", 5 * 60)
CONTAINERSVC_BEARER_COOL_OFF_SECONDS = env_float("CONTAINERSVC_BEARER_COOL_OFF_SECONDS", 5 * 60)
CONTAINERSVC_API_RATE = os.environ.get("CONTAINERSVC_API_RATE", "1200/min")
# The engine's log of every container the service creates is json-file (never the caller's choice), rotated
# at this size into at most this many files: a container printing without end holds at most their product.
CONTAINERSVC_LOG_MAX_SIZE = os.environ.get("CONTAINERSVC_LOG_MAX_SIZE", "10m")
CONTAINERSVC_LOG_MAX_FILES = env_int("CONTAINERSVC_LOG_MAX_FILES", 3)
# Seconds a logs request waits for the engine's newest lines to be stored before it answers from the store
# as it stands (the capture goes on beside it).
CONTAINERSVC_LOGS_CAPTURE_WAIT_SECONDS = env_float("CONTAINERSVC_LOGS_CAPTURE_WAIT_SECONDS", 2)
# Resource stats: seconds between samples of every running container; where they are read from ("auto": the
# cgroup files when this host has the engine's cgroups, else the engine's one-shot stats; "cgroup"; "engine");
# the cgroup mount; and how long one engine stats call may take.
CONTAINERSVC_STATS_INTERVAL = env_float("CONTAINERSVC_STATS_INTERVAL", 1)
CONTAINERSVC_STATS_SOURCE = os.environ.get("CONTAINERSVC_STATS_SOURCE", "auto").strip().lower()
CONTAINERSVC_CGROUP_ROOT = os.environ.get("CONTAINERSVC_CGROUP_ROOT", "/sys/fs/cgroup")
CONTAINERSVC_STATS_ENGINE_TIMEOUT = env_float("CONTAINERSVC_STATS_ENGINE_TIMEOUT", 5)
# Stats history: seconds at full resolution in memory, then stored buckets (seconds long, seconds kept).
CONTAINERSVC_STATS_MEMORY_SECONDS = env_int("CONTAINERSVC_STATS_MEMORY_SECONDS", 15 * 60)
CONTAINERSVC_STATS_FINE_BUCKET_SECONDS = env_int("CONTAINERSVC_STATS_FINE_BUCKET_SECONDS", 10)
CONTAINERSVC_STATS_FINE_RETENTION_SECONDS = env_int("CONTAINERSVC_STATS_FINE_RETENTION_SECONDS", 24 * 3600)
CONTAINERSVC_STATS_COARSE_BUCKET_SECONDS = env_int("CONTAINERSVC_STATS_COARSE_BUCKET_SECONDS", 60)
CONTAINERSVC_STATS_COARSE_RETENTION_SECONDS = env_int("CONTAINERSVC_STATS_COARSE_RETENTION_SECONDS", 7 * 24 * 3600)


def env_limit(name: str, cast: type, default: int | float | None = None) -> int | float | None:
    """A resource limit: unset, empty or 0 is no limit."""
    value = os.environ.get(name, "").strip()
    return (cast(value) or None) if value else default


# Limits of containers run through the service: the default of a run that asks for none, and the most a
# caller may ask for (superusers excepted). A maximum without a default is also the default; a default
# without a maximum is also the maximum.
CONTAINERSVC_DEFAULT_PIDS_LIMIT = env_limit("CONTAINERSVC_DEFAULT_PIDS_LIMIT", int, 1024)
CONTAINERSVC_DEFAULT_MEMORY_BYTES = env_limit("CONTAINERSVC_DEFAULT_MEMORY_BYTES", int)
CONTAINERSVC_DEFAULT_CPUS = env_limit("CONTAINERSVC_DEFAULT_CPUS", float)
CONTAINERSVC_MAX_PIDS_LIMIT = env_limit("CONTAINERSVC_MAX_PIDS_LIMIT", int)
CONTAINERSVC_MAX_MEMORY_BYTES = env_limit("CONTAINERSVC_MAX_MEMORY_BYTES", int)
CONTAINERSVC_MAX_CPUS = env_limit("CONTAINERSVC_MAX_CPUS", float)
