"""Test settings: the base settings with a private embedded Redis unless REDIS_URL is given.

Processes the tests start (daphne, qcluster) inherit REDIS_URL from the environment, so they all
share the Redis this module starts.
"""

import os

from conductor.embedded_redis import start_private_server

if not os.environ.get("REDIS_URL"):
    os.environ["REDIS_URL"] = start_private_server()
os.environ.setdefault("CHANNEL_PREFIX", f"conductor-test-{os.getpid()}")

from conductor.settings.base import *  # noqa: E402,F403
from conductor.settings.base import DATABASES, Q_CLUSTER, VAR_DIR  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)  # a fresh checkout has no var/ yet
    # A file, not :memory:, so that daphne and qcluster processes started by tests share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    # One database per test run, so that runs from several checkouts never share one.
    DATABASES["default"]["TEST"] = {"NAME": f"test_conductor_{os.getpid()}"}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
Q_CLUSTER = {**Q_CLUSTER, "sync": False}
