"""The `/ws/gamification` WebSocket consumer (SPEC §4)."""

import time
import uuid
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from gamification.app_settings import app_settings


class GamificationConsumer(AsyncJsonWebsocketConsumer):
    """One browser or program watching events."""

    async def connect(self) -> None:
        self.client_id = str(uuid.uuid4())
        await self.accept()
        await self.channel_layer.group_add(app_settings.GROUP, self.channel_name)
        await self.reply(
            "connected", {"message": "Connected to gamification WebSocket", "client_id": self.client_id, "last_id": 0}
        )

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(app_settings.GROUP, self.channel_name)

    async def reply(self, event_type: str, data: dict[str, Any]) -> None:
        """Send a message to this client only (never replayable, so `id` is null)."""
        await self.send_json({"type": event_type, "data": data, "timestamp": time.time(), "id": None})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("command") == "ping":
            await self.reply("pong", {"timestamp": time.time()})

    async def gamification_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["envelope"])
