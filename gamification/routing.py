from django.urls import path

from gamification.consumers import GamificationConsumer

websocket_urlpatterns = [
    path("ws/gamification", GamificationConsumer.as_asgi()),
]
