"""Test settings: the base settings with a private embedded Redis unless REDIS_URL is given.

Importing this module starts nothing: it only names the private Redis's socket, and the test
session starts the server there (tests/conftest.py, `pytest_configure`). Processes the tests start
(daphne, run_cluster) inherit REDIS_URL, so they all share that one Redis.
"""

import os
import secrets
import tempfile
from pathlib import Path

# Set before the base settings read the environment, so every setting built from it agrees.
TEST_EMBEDDED_REDIS_SOCKET = None
if not os.environ.get("REDIS_URL"):
    TEST_EMBEDDED_REDIS_SOCKET = Path(tempfile.gettempdir()) / f"conductor-test-redis-{os.getpid()}" / "redis.sock"
    os.environ["REDIS_URL"] = f"unix://{TEST_EMBEDDED_REDIS_SOCKET}"
os.environ.setdefault("CHANNEL_PREFIX", f"conductor-test-{os.getpid()}")
# A key of this test session's own (tests run with DEBUG off, so the base settings demand one); the
# processes the tests start get it too (tests/processes.py). Never written down, so never published.
if not os.environ.get("SECRET_KEY") and not os.environ.get("SECRET_KEY_FILE"):
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)

from conductor.settings.base import *  # noqa: E402,F403
from conductor.settings.base import DATABASES, Q_CLUSTER, VAR_DIR  # noqa: E402

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so that daphne and run_cluster processes started by tests share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    # One database per test run, so that runs from several checkouts never share one.
    DATABASES["default"]["TEST"] = {"NAME": f"test_conductor_{os.getpid()}"}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
Q_CLUSTER = {**Q_CLUSTER, "sync": False}
