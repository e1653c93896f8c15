"""``WsException``: the error a gateway raises to tell the caller what went wrong.

The class is defined in ``nestpy.common.exceptions`` (below this layer) so the pipeline can
raise it; this is its public home.
"""

from typing import Any

from nestpy.common.exceptions import WsException as WsException
from nestpy.exceptions import NestpyError

__all__ = ["AckTimeoutError", "WsException"]


class AckTimeoutError(NestpyError, TimeoutError):
    """Some clients did not acknowledge a broadcast in time
    (``server.timeout(s).emit_with_ack(...)``).

    Attributes:
        responses: the replies that did arrive, in arrival order (one per client, by
            python-socketio's rule: one ack argument → that value, several → a tuple).
        expected: how many clients were asked.

    .. versionadded:: 0.1
    """

    def __init__(self, event: str, timeout: float, responses: list[Any], expected: int) -> None:
        self.event = event
        self.timeout = timeout
        self.responses = responses
        self.expected = expected
        super().__init__(str(self))

    def __str__(self) -> str:
        return (
            f"{self.expected - len(self.responses)} of {self.expected} clients did not "
            f"acknowledge {self.event!r} within {self.timeout}s ({len(self.responses)} replied; "
            "see .responses)"
        )
