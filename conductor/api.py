"""The JSON HTTP API (SPEC §6), served with its OpenAPI schema by django-ninja."""

from ninja import NinjaAPI

from conductor.api_security import api_auth
from councilors.api import router as councilors_router
from gamification.api import router as gamification_router

api = NinjaAPI(title="Conductor gamification gateway", version="1.0", urls_namespace="api", auth=api_auth())
api.add_router("", councilors_router)
api.add_router("", gamification_router)
