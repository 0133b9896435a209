"""The two shapes of one event (docs/protocol.md, "Private run details"), each encoded once.

A run's private details (its error text, its instance id: `EventType.private` in the catalogue)
go to the user who asked for the run (its requester) and to holders of DETAILS_PERMISSION; every
other client gets the public shape: the same type, id and timestamp, the private fields emptied
or left out, `details_withheld: true`. Runs the scheduler started have no requester. The fan-out
picks one of the two ready frames per client: no encoding per client.
"""

from dataclasses import dataclass
from typing import Any

from gamification.catalogue import PRIVATE_TYPES, public_data
from gamification.history import encode_frame
from gamification.outbox import Frame


@dataclass(frozen=True, slots=True)
class EventFrames:
    """One event, framed once per shape (`public` is `full` when it has no private details)."""

    event_id: int | None
    event_type: str
    full: Frame
    public: Frame
    requester: int | None = None  # the pk of the user who asked for the run; None: nobody (the scheduler)

    def for_viewer(self, *, user_id: int | None, sees_all_details: bool) -> Frame:
        """The frame this viewer may see: the full one for the requester and DETAILS_PERMISSION holders."""
        if self.public is self.full or sees_all_details or (user_id is not None and user_id == self.requester):
            return self.full
        return self.public


def public_envelope(envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope as a client without the right to the run's details gets it."""
    if envelope["type"] not in PRIVATE_TYPES:
        return envelope
    return {**envelope, "data": public_data(envelope["type"], envelope["data"])}


def event_frames(
    envelope: dict[str, Any], *, requester: int | None = None, full_text: str | None = None
) -> EventFrames:
    """Both shapes of an envelope, each encoded once (`full_text`: its encoding, when already at hand)."""
    full = Frame(encode_frame(envelope) if full_text is None else full_text)
    public = full if envelope["type"] not in PRIVATE_TYPES else Frame(encode_frame(public_envelope(envelope)))
    return EventFrames(envelope.get("id"), envelope["type"], full, public, requester)


def envelope_for_viewer(
    envelope: dict[str, Any], *, requester: int | None, user_id: int | None, sees_all_details: bool
) -> dict[str, Any]:
    """`EventFrames.for_viewer` for an envelope as a dict (`GET /api/events`)."""
    if sees_all_details or (user_id is not None and user_id == requester):
        return envelope
    return public_envelope(envelope)
