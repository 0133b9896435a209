"""Text the database cannot store: refused where it comes in, so that no run or record is lost later.

PostgreSQL stores no NUL character (in text or in jsonb), and no database stores a lone UTF-16
surrogate (U+D800–U+DFFF): JSON's `"\\ud800"` escape and command-line bytes that are not UTF-8
(Python's surrogateescape) produce them. An `execute` that accepted such a prompt answered 202
and the worker then failed to write the run (docs/security.md, "Bad text is refused").
"""

import re
from typing import Any

NUL = "\x00"
_SURROGATE = re.compile("[\ud800-\udfff]")


def unstorable(text: str) -> bool:
    """Whether `text` holds a character the database cannot store (NUL, a lone surrogate)."""
    return NUL in text or _SURROGATE.search(text) is not None


def unstorable_anywhere(value: Any) -> bool:
    """Whether any string in a JSON-like value (its keys too) is `unstorable`."""
    if isinstance(value, str):
        return unstorable(value)
    if isinstance(value, dict):
        return any(unstorable_anywhere(key) or unstorable_anywhere(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(unstorable_anywhere(item) for item in value)
    return False
