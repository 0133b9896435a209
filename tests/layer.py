"""Channel layers for tests: a real listener on the gamification group, and a layer whose Redis is gone."""

from channels.layers import get_channel_layer

from gamification.app_settings import app_settings


async def group_listener():
    """(layer, channel) subscribed to the group every event goes to; `layer.receive(channel)` reads one."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(app_settings.GROUP, channel)
    return layer, channel


def unreachable_layer(tmp_path) -> dict:
    """CHANNEL_LAYERS naming a Redis socket where nothing listens (the history and presence use it too)."""
    address = f"unix://{tmp_path}/no-redis.sock"
    config = {"hosts": [{"address": address}], "prefix": "unreachable"}
    return {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": config}}
