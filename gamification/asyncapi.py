"""The AsyncAPI 3.0 document of `/ws/gamification`, generated from the catalogue and protocol.py.

Served at `GET /api/asyncapi.json` (gamification/api.py); docs/protocol.md is its prose. No event type,
field, command or code is written here: the TypedDicts of gamification/catalogue.py and
gamification/protocol.py become JSON Schema (str/int/float/bool/None, unions, Literal → enum,
NotRequired → not required, list, dict, nested TypedDicts → components.schemas), and the
command, reply and close-code tables become messages and operations. The operations are the
gateway's: it *sends* events and replies and *receives* commands.

The schemas use only keywords that mean the same in JSON Schema draft-07 (the base of AsyncAPI's
default schema format) and 2020-12 (what the tests validate with).
"""

import types
from typing import Annotated, Any, Literal, NotRequired, Required, Union, get_args, get_origin, get_type_hints

from django.conf import settings

from gamification import protocol
from gamification.catalogue import BROADCAST_TYPES, CATALOGUE, DETAILS_WITHHELD, EventType

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "1.0.0"
CHANNEL = "gamification"
ADDRESS = "/ws/gamification"
SCHEMAS_REF = "#/components/schemas/"
EVENT_OPERATION = "sendEvent"
CONNECTED_OPERATION = "sendConnected"
WS_BINDING_VERSION = "0.1.0"

_SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
_REQUEST_ID = {"type": ["string", "integer"], "description": "Echoed from the command, when it carried one."}
_TIMESTAMP = {"type": "number", "description": "Unix seconds, stamped once when the message was made."}
_EVENT_ID = {
    "type": ["integer", "null"],
    "minimum": 1,
    "description": "Increasing across the deployment; `resume` from it. Null when the history is off.",
}
_REPLY_ID = {"type": "null", "description": "Replies to one client are never replayed."}


def event_key(name: str) -> str:
    return f"event.{name}"


def reply_key(name: str) -> str:
    return f"reply.{name}"


def command_key(name: str) -> str:
    return f"command.{name}"


class Schemas:
    """Turns type hints into JSON Schema; each TypedDict becomes one named entry of components.schemas."""

    def __init__(self) -> None:
        self.named: dict[str, dict[str, Any]] = {}
        self._classes: dict[str, type] = {}

    def of(self, hint: Any) -> dict[str, Any]:
        """The JSON Schema of one type hint."""
        origin, args = get_origin(hint), get_args(hint)
        if hint is Any:
            return {}
        if isinstance(hint, type) and hint in _SCALARS:  # (an Annotated hint is no type, nor hashable)
            return {"type": _SCALARS[hint]}
        if origin is Annotated:
            extras = [extra for extra in hint.__metadata__ if isinstance(extra, protocol.JsonSchema)]
            return {**self.of(args[0]), **{key: value for extra in extras for key, value in extra.items()}}
        if origin in (NotRequired, Required):
            return self.of(args[0])
        if origin is Literal:
            return {"const": args[0]} if len(args) == 1 else {"enum": list(args)}
        if origin in (Union, types.UnionType):
            return _union([self.of(arg) for arg in args])
        if origin is list:
            return {"type": "array", "items": self.of(args[0])}
        if origin is dict:
            values = self.of(args[1])
            return {"type": "object", "additionalProperties": values} if values else {"type": "object"}
        if isinstance(hint, type) and hasattr(hint, "__required_keys__"):
            return self.ref(hint)
        raise TypeError(f"no JSON Schema for {hint!r}")

    def ref(self, typed_dict: type[Any]) -> dict[str, str]:
        """A $ref to the TypedDict's entry, added on first use."""
        name = typed_dict.__name__
        if self._classes.setdefault(name, typed_dict) is not typed_dict:
            raise TypeError(f"two TypedDicts named {name}: {self._classes[name]!r} and {typed_dict!r}")
        if name not in self.named:
            self.named[name] = {}  # reserved first: a TypedDict may refer to itself
            self.named[name] = self.object(typed_dict)
        return {"$ref": SCHEMAS_REF + name}

    def object(self, typed_dict: type[Any], **extra: dict[str, Any]) -> dict[str, Any]:
        """The TypedDict as a closed object (plus optional `extra` properties)."""
        hints = get_type_hints(typed_dict, include_extras=True)
        properties = {name: self.of(hint) for name, hint in hints.items()} | extra
        required = [name for name in hints if name in typed_dict.__required_keys__]
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        return schema | {"additionalProperties": False}


def _union(options: list[dict[str, Any]]) -> dict[str, Any]:
    """`a | b`: one `type` list or one `enum` when the options allow it, `anyOf` otherwise."""
    if all(option.keys() == {"type"} for option in options):
        kinds = [kind for option in options for kind in _as_list(option["type"])]
        return {"type": kinds}
    if all(option.keys() == {"enum"} or option == {"type": "null"} for option in options):
        return {"enum": [value for option in options for value in option.get("enum", [None])]}
    return {"anyOf": options}


def _as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def _envelope(name: str, data: dict[str, Any], id_schema: dict[str, Any]) -> dict[str, Any]:
    properties = {"type": {"const": name}, "data": data, "timestamp": _TIMESTAMP, "id": id_schema}
    return {
        "type": "object",
        "properties": {key: properties[key] for key in protocol.ENVELOPE_KEYS},
        "required": list(protocol.ENVELOPE_KEYS),
        "additionalProperties": False,
    }


def _message(name: str, summary: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "summary": summary, "contentType": "application/json", "payload": payload}


PRIVATE_DETAILS = (
    "Two shapes of one event (same type, id and timestamp): the run's requester and holders of {permission} "
    "get it whole; everyone else gets the public shape, where {fields} are emptied (required) or left out "
    "(optional) and `{withheld}` is true."
)


def _event_data(schemas: Schemas, event: EventType) -> dict[str, Any]:
    """The data schema of an event; with private details, one of its two shapes (gamification/shapes.py)."""
    full = schemas.ref(event.data)
    if not event.private:
        return full
    whole = schemas.named[event.data.__name__]
    properties, required = dict(whole["properties"]), list(whole.get("required", []))
    for name in event.private:
        if name in required:
            properties[name] = {"const": ""}
        else:
            properties.pop(name, None)
    public = f"{event.data.__name__}Public"
    schemas.named[public] = {
        "type": "object",
        "properties": properties | {DETAILS_WITHHELD: {"const": True}},
        "required": [*required, DETAILS_WITHHELD],
        "additionalProperties": False,
    }
    return {"oneOf": [full, {"$ref": SCHEMAS_REF + public}]}


def _event_messages(schemas: Schemas) -> dict[str, dict[str, Any]]:
    messages = {}
    for name, event in CATALOGUE.items():
        if name not in BROADCAST_TYPES:
            continue
        message = _message(name, event.summary, _envelope(name, _event_data(schemas, event), _EVENT_ID))
        if event.private:
            fields = ", ".join(f"`{field}`" for field in event.private)
            message["description"] = PRIVATE_DETAILS.format(
                permission=protocol.DETAILS_PERMISSION, fields=fields, withheld=DETAILS_WITHHELD
            )
            message["x-private-fields"] = list(event.private)
        messages[event_key(name)] = message
    return messages


def _reply_messages(schemas: Schemas) -> dict[str, dict[str, Any]]:
    messages = {}
    for name, data in protocol.REPLIES.items():
        # `connected` answers no command, so it has nothing to echo.
        extra = {} if name == protocol.CONNECTED else {protocol.REQUEST_ID: _REQUEST_ID}
        summary = f"Reply to the caller only: {name}."
        messages[reply_key(name)] = _message(name, summary, _envelope(name, schemas.object(data, **extra), _REPLY_ID))
    return messages


def _command_messages(schemas: Schemas) -> dict[str, dict[str, Any]]:
    messages = {}
    for name, command in protocol.COMMANDS.items():
        fields = schemas.object(command.fields)
        payload: dict[str, Any] = {
            "type": "object",
            "description": "Other fields are ignored.",
            "properties": {protocol.COMMAND_FIELD: {"const": name}, **fields["properties"]},
            "required": [protocol.COMMAND_FIELD, *fields.get("required", [])],
        }
        payload["properties"][protocol.REQUEST_ID] = {
            "type": ["string", "integer"],
            "description": "Echoed in the reply's data.request_id.",
        }
        messages[command_key(name)] = _message(name, command.summary, payload)
    return messages


def _channel_ref(key: str) -> dict[str, str]:
    return {"$ref": f"#/channels/{CHANNEL}/messages/{key}"}


def _operations(event_keys: list[str]) -> dict[str, dict[str, Any]]:
    channel = {"$ref": f"#/channels/{CHANNEL}"}
    operations: dict[str, dict[str, Any]] = {
        CONNECTED_OPERATION: {
            "action": "send",
            "channel": channel,
            "summary": "The first message on every accepted connection, which starts subscribed to `all`.",
            "messages": [_channel_ref(reply_key(protocol.CONNECTED))],
        },
        EVENT_OPERATION: {
            "action": "send",
            "channel": channel,
            "summary": "Each event of the connection's topics, once, in id order.",
            "messages": [_channel_ref(key) for key in event_keys],
        },
    }
    for name, command in protocol.COMMANDS.items():
        description = "The replayed events (sendEvent messages) come first." if command.replays else ""
        operations[name] = {
            "action": "receive",
            "channel": channel,
            "summary": command.summary,
            "messages": [_channel_ref(command_key(name))],
            "reply": {
                "channel": channel,
                "messages": [_channel_ref(reply_key(command.reply)), _channel_ref(reply_key(protocol.ERROR))],
            },
        } | ({"description": description} if description else {})
    return operations


def _channel(message_keys: list[str]) -> dict[str, Any]:
    return {
        "address": ADDRESS,
        "title": "Gamification events",
        "summary": "Every server message is an envelope {type, data, timestamp, id}; commands are JSON objects.",
        "messages": {key: {"$ref": f"#/components/messages/{key}"} for key in message_keys},
        "bindings": {
            "ws": {
                "method": "GET",
                "query": {
                    "type": "object",
                    "properties": {
                        "token": {"type": "string", "description": "A JWT (manage.py ws_token)."},
                        "since": {
                            "type": "string",
                            "pattern": "^[0-9]{1,18}$",
                            "description": "Resume on connect: the missed events with id > since come right "
                            "after `connected` (which then says `replayed` and `complete`), before any live one.",
                        },
                    },
                },
                "headers": {
                    "type": "object",
                    "properties": {
                        "Origin": {
                            "type": "string",
                            "description": "Browsers: must be the gateway's own origin or in WS_ALLOWED_ORIGINS "
                            "(403 otherwise). Without it, only a token authenticates.",
                        }
                    },
                },
                "bindingVersion": WS_BINDING_VERSION,
            }
        },
        "x-close-codes": [
            {"code": int(close), "reason": close.reason, "when": close.when} for close in protocol.CloseCode
        ],
    }


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document of `/ws/gamification`, built afresh from the code."""
    schemas = Schemas()
    events = _event_messages(schemas)
    messages = {**events, **_reply_messages(schemas), **_command_messages(schemas)}
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Conductor gamification gateway",
            "version": DOCUMENT_VERSION,
            "description": "Live events of agent and councilor runs over one WebSocket. Prose: docs/protocol.md.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "gateway": {
                "host": "{host}",
                "protocol": "ws",
                "description": "Any gateway process of the deployment; wss:// behind TLS.",
                "variables": {"host": {"default": "127.0.0.1:5006", "description": "host:port of a gateway"}},
                "security": [
                    {"$ref": "#/components/securitySchemes/token"},
                    {"$ref": "#/components/securitySchemes/session"},
                ],
            }
        },
        "channels": {CHANNEL: _channel(list(messages))},
        "operations": _operations(list(events)),
        "components": {
            "schemas": dict(sorted(schemas.named.items())),
            "messages": messages,
            "securitySchemes": {
                "token": {"type": "httpApiKey", "name": "token", "in": "query", "description": "A JWT (HS256)."},
                "session": {
                    "type": "httpApiKey",
                    "name": settings.SESSION_COOKIE_NAME,
                    "in": "cookie",
                    "description": "The Django session; honoured only with an allowed Origin header.",
                },
            },
        },
    }
