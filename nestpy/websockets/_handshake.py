"""``Handshake``: what a Socket.IO client sent when it connected; ``RemoteHandshake``: the
same, rebuilt from the summary another node of the cluster sent."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["Handshake", "RemoteHandshake"]


class Handshake:
    """What the client sent when it connected (Socket.IO's ``socket.handshake``)."""

    __slots__ = ("_environ", "auth", "issued", "time")

    def __init__(self, environ: dict[str, Any], auth: Any) -> None:
        self._environ = environ
        #: The ``auth`` object the client passed (``{}`` when none).
        self.auth: dict[str, Any] = auth if isinstance(auth, dict) else {}
        #: Connection time, milliseconds since the epoch.
        self.issued = int(time.time() * 1000)
        #: Connection time as an ISO-8601 UTC string.
        self.time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.issued / 1000))

    @property
    def headers(self) -> dict[str, str]:
        """Request headers, lower-case names."""
        req = self._environ.get("aiohttp.request")
        if req is not None:
            return {k.lower(): v for k, v in req.headers.items()}
        return {
            k[5:].replace("_", "-").lower(): v
            for k, v in self._environ.items()
            if k.startswith("HTTP_")
        }

    @property
    def query(self) -> dict[str, str]:
        """Query string parameters of the handshake request (first value of each)."""
        out: dict[str, str] = {}
        for k, v in parse_qsl(self._environ.get("QUERY_STRING", ""), keep_blank_values=True):
            out.setdefault(k, v)
        return out

    @property
    def address(self) -> str:
        """The client's IP address."""
        req = self._environ.get("aiohttp.request")
        remote = getattr(req, "remote", None)
        return str(remote or self._environ.get("REMOTE_ADDR", ""))

    @property
    def url(self) -> str:
        """The handshake request's path and query."""
        return str(self._environ.get("RAW_URI", ""))

    @property
    def secure(self) -> bool:
        """Whether the handshake came over TLS."""
        return self._environ.get("wsgi.url_scheme") == "https"

    def __repr__(self) -> str:
        return f"Handshake(address={self.address!r}, auth_keys={sorted(self.auth)!r})"


class RemoteHandshake(Handshake):
    """A ``Handshake`` rebuilt from the summary another node sent."""

    __slots__ = ("_summary",)

    def __init__(self, summary: dict[str, Any]) -> None:
        self._environ = {}
        self._summary = summary
        auth = summary.get("auth")
        self.auth = auth if isinstance(auth, dict) else {}
        self.issued = int(summary.get("issued") or 0)
        self.time = str(summary.get("time") or "")

    @property
    def headers(self) -> dict[str, str]:
        """Request headers, lower-case names."""
        return dict(self._summary.get("headers") or {})

    @property
    def query(self) -> dict[str, str]:
        """Query string parameters of the handshake request."""
        return dict(self._summary.get("query") or {})

    @property
    def address(self) -> str:
        """The client's IP address."""
        return str(self._summary.get("address") or "")

    @property
    def url(self) -> str:
        """The handshake request's path and query."""
        return str(self._summary.get("url") or "")

    @property
    def secure(self) -> bool:
        """Whether the handshake came over TLS."""
        return bool(self._summary.get("secure"))
