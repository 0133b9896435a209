"""HTTP endpoints for agents, executions and councilors (SPEC §6)."""

from ninja import Router

router = Router(tags=["councilors"])
