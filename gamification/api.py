"""HTTP endpoints for events (SPEC §5, §6)."""

from ninja import Router

router = Router(tags=["events"])
