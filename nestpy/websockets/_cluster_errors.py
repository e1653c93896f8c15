"""Errors of the cluster adapters, and broker URLs made safe to print.

``AdapterError`` is the root; ``BrokerUnavailableError`` names the broker, its URL (password
redacted by ``redact_url``) and the fix; ``ClusterTimeoutError`` names the nodes that did not
answer.
"""

from __future__ import annotations

import contextlib
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from nestpy.exceptions import NestpyError

__all__ = [
    "AdapterError",
    "BrokerUnavailableError",
    "ClusterTimeoutError",
    "error_reason",
    "redact_url",
    "url_scheme",
]

_SECRET_QUERY_KEYS: Final = frozenset({"password", "passwd", "pass", "secret", "token"})


class AdapterError(NestpyError):
    """A cluster adapter (Redis, RabbitMQ) could not do what was asked.

    .. versionadded:: 0.1
    """


class BrokerUnavailableError(AdapterError):
    """The broker (Redis or RabbitMQ) cannot be reached.

    Raised by ``app.listen()`` when the broker is down at startup, and by cluster-wide queries
    (``fetch_sockets()`` …) and ``Emitter`` emits while it is down. Local clients keep being
    served either way.

    Attributes:
        broker: ``"Redis"`` or ``"RabbitMQ"``.
        url: the broker URL, password redacted.
        reason: what the client library said.
        starting: True when raised at startup.
        partial: for a query, what this process could answer on its own (its local sockets).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        broker: str,
        url: str,
        reason: str,
        *,
        starting: bool,
        fix: str,
        partial: list[Any] | None = None,
    ) -> None:
        self.broker = broker
        self.url = url
        self.reason = reason
        self.starting = starting
        self.fix = fix
        self.partial: list[Any] = partial or []
        super().__init__(str(self))

    def __str__(self) -> str:
        if self.starting:
            return f"cannot connect to {self.broker} at {self.url} ({self.reason}). {self.fix}"
        return (
            f"{self.broker} at {self.url} is unreachable ({self.reason}); other nodes were not "
            f"asked. Local clients are still served and the adapter reconnects when "
            f"{self.broker} is back. {self.fix}"
        )


class ClusterTimeoutError(AdapterError, TimeoutError):
    """Some nodes of the cluster did not answer a query in time.

    Attributes:
        operation: the call that timed out (``"fetch_sockets"``, ``"disconnect_sockets"`` …).
        timeout: the timeout in seconds.
        expected: how many other nodes were asked.
        received: how many answered.
        missing: ids of the nodes that did not answer, when known (heartbeats).
        partial: for ``fetch_sockets()``, the sockets of this node and of the nodes that
            answered.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        operation: str,
        timeout: float,
        expected: int,
        received: int,
        missing: list[str],
        partial: list[Any],
    ) -> None:
        self.operation = operation
        self.timeout = timeout
        self.expected = expected
        self.received = received
        self.missing = missing
        self.partial = partial
        super().__init__(str(self))

    def __str__(self) -> str:
        who = f" (node ids: {', '.join(self.missing)})" if self.missing else ""
        tail = (
            "; .partial holds the sockets of this node and of the nodes that answered"
            if self.operation == "fetch_sockets"
            else "; the nodes that answered have done it"
        )
        return (
            f"{self.operation}(): {self.expected - self.received} of {self.expected} other "
            f"node(s) did not answer within {self.timeout:g} s{who}{tail}. A node that stopped "
            "without saying goodbye is dropped after its heartbeat timeout."
        )


# -- helpers ------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """*url* with its password (user-info or ``?password=``) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc
    if password is not None:
        user, _, host = netloc.rpartition("@")
        name = user.split(":", 1)[0]
        netloc = f"{name}:***@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_QUERY_KEYS for k, _ in pairs):
            query = urlencode(
                [(k, "***" if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs],
                safe="*",
            )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def url_scheme(url: str) -> str:
    """The lower-case scheme of *url* (``""`` when it has none)."""
    return url.split("://", 1)[0].lower() if "://" in url else ""



def error_reason(exc: BaseException, url: str | None = None) -> str:
    """``Type: message`` for *exc*, any password of *url* replaced by ``***``."""
    text = str(exc).strip()
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if url:
        # Client libraries print hosts, not passwords; make sure of it anyway.
        with contextlib.suppress(ValueError):
            password = urlsplit(url).password
            if password:
                reason = reason.replace(password, "***")
    return reason

