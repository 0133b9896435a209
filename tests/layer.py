"""A real channel-layer listener on the gamification group, for tests that check what was published."""

from channels.layers import get_channel_layer

from gamification.app_settings import app_settings


async def group_listener():
    """(layer, channel) subscribed to the group every event goes to; `layer.receive(channel)` reads one."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(app_settings.GROUP, channel)
    return layer, channel
