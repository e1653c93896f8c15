"""Name normalisation for schematics: ``chat-room``, ``ChatRoom``, ``chat_room`` are one name."""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from nestpy.cli._discovery import CLIError

__all__ = ["Name", "normalise"]

_VALID = re.compile(r"[A-Za-z][A-Za-z0-9_\- ]*")
# "chatRoom" -> "chat_Room"; "HTTPServer" -> "HTTP_Server" (an acronym ends before its last
# capital when a lower-case letter follows, as inflection libraries do).
_LOWER_UPPER = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_ACRONYM_END = re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])")


@dataclass(frozen=True, slots=True)
class Name:
    """One schematic name in the spellings the templates need."""

    words: tuple[str, ...]

    @property
    def snake(self) -> str:
        """``chat_room``: file, module and directory names."""
        return "_".join(self.words)

    @property
    def pascal(self) -> str:
        """``ChatRoom``: the class-name stem (``ChatRoomGateway``)."""
        return "".join(w[:1].upper() + w[1:] for w in self.words)

    @property
    def kebab(self) -> str:
        """``chat-room``: distribution names and the like."""
        return "-".join(self.words)


def normalise(raw: str, *, what: str = "name") -> Name:
    """Split *raw* (any of kebab, snake, camel or Pascal case) into lower-case words.

    Raises:
        CLIError: *raw* is empty, starts with something other than a letter, holds characters
            other than letters, digits, ``-``, ``_`` or spaces, or spells a Python keyword.
    """
    if not _VALID.fullmatch(raw):
        raise CLIError(
            f"invalid {what} {raw!r}: start with a letter and use only letters, digits, "
            f"'-' or '_' (e.g. chat-room, ChatRoom or chat_room)"
        )
    spaced = _ACRONYM_END.sub("_", _LOWER_UPPER.sub("_", raw))
    words = tuple(w.lower() for w in re.split(r"[_\- ]+", spaced) if w)
    name = Name(words)
    if keyword.iskeyword(name.snake):
        raise CLIError(f"invalid {what} {raw!r}: {name.snake!r} is a Python keyword; pick another")
    return name
