"""Joining a replay from the history to a connection's live stream (docs/protocol.md, "Event ids and resume").

Every gateway process receives events in id order (gamification.history publishes them from the
same atomic step that assigns the id), and the history holds every id up to the newest with no
holes. So for one connection:
- once it has been sent a live event with id F, it gets every later event of its topics live:
  a replay only needs ids below F;
- live events that arrive while a replay runs are held, and sent after it, except those the replay
  already covered (id <= the replay's last id): no gap and no duplicate across the seam.
"""

from dataclasses import dataclass, field

from gamification.outbox import Frame


@dataclass
class ResumeSeam:
    """Per-connection bookkeeping: which live frames to send now, hold, or drop as already replayed."""

    first_live_id: int | None = None  # the first event this connection was sent live
    replayed_through: int = 0  # live events up to this id were (or will be) sent by a replay
    held: list[tuple[Frame, int | None]] | None = field(default=None)  # live frames waiting for a replay

    def admit(self, frame: Frame, event_id: int | None) -> bool:
        """True when a live frame should be sent now; False when it is held or already replayed."""
        if self.held is not None:
            self.held.append((frame, event_id))
            return False
        # `_fresh`, written out: this runs once per event per client.
        if event_id is None:
            return True
        if event_id <= self.replayed_through:
            return False
        if self.first_live_id is None:
            self.first_live_id = event_id
        return True

    def hold(self) -> int | None:
        """Start holding live frames; returns the last id a replay must include (None: up to the newest)."""
        self.held = []
        return None if self.first_live_id is None else self.first_live_id - 1

    def release(self, *, replayed_through: int = 0) -> list[Frame]:
        """Stop holding; returns the held frames to send now (those the replay did not cover), in order."""
        self.replayed_through = max(self.replayed_through, replayed_through)
        held, self.held = self.held or [], None
        return [frame for frame, event_id in held if self._fresh(event_id)]

    def restart_at(self, event_id: int) -> None:
        """Live delivery went on at `event_id` after a loss: a replay must reach just below it."""
        self.first_live_id = event_id

    @property
    def held_count(self) -> int:
        return len(self.held or ())

    def _fresh(self, event_id: int | None) -> bool:
        if event_id is None:
            return True
        if event_id <= self.replayed_through:
            return False
        if self.first_live_id is None:
            self.first_live_id = event_id
        return True
