"""ASGI entry point: HTTP through Django, WebSockets through Channels' routing.

The same application runs under daphne (the default) and uvicorn (see the README).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conductor.settings.base")
# Django must be set up before anything imports models (the routing does, through the consumer).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import reverse  # noqa: E402

from gamification.fastpath import report as report_fast_paths  # noqa: E402
from gamification.middleware import ConnectionUserMiddleware, OriginMiddleware  # noqa: E402
from gamification.routing import websocket_urlpatterns  # noqa: E402
from infrastructure.gc_tuning import tune_garbage_collector  # noqa: E402
from infrastructure.streaming import SharedSyncThread  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": SharedSyncThread(django_asgi_app, paths=[reverse("api:execution_stream")]),
        # OriginMiddleware, not channels' AllowedHostsOriginValidator: that one refuses every client
        # without an Origin header, and programs send none (they must then bring a token).
        "websocket": OriginMiddleware(ConnectionUserMiddleware(URLRouter(websocket_urlpatterns))),
    }
)

# Which fast paths this process can take (logged once, at start-up, by each check).
report_fast_paths()
# Everything imported so far lives as long as the process: keep the collector off it (gc_tuning.py).
tune_garbage_collector()
