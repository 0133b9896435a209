"""A small Server-Sent Events parser for tests (incremental: feed it chunks as they arrive)."""

from dataclasses import dataclass, field


@dataclass
class SSEEvent:
    event: str = "message"
    data: str = ""
    id: str | None = None


@dataclass
class SSEParser:
    buffer: str = ""
    comments: list[str] = field(default_factory=list)

    def feed(self, chunk: bytes | str) -> list[SSEEvent]:
        """The events completed by this chunk, in order (comments are kept aside, `retry` ignored)."""
        self.buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        events = []
        while "\n\n" in self.buffer:
            block, self.buffer = self.buffer.split("\n\n", 1)
            event, data, seen = SSEEvent(), [], False
            for line in block.split("\n"):
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name == "data":
                    data.append(value)
                    seen = True
                elif name == "event":
                    event.event = value
                elif name == "id":
                    event.id = value
            if seen:
                event.data = "\n".join(data)
                events.append(event)
        return events
