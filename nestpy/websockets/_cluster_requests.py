"""Request/reply over the cluster channel: ``ClusterManager``'s queries (``fetch_sockets``,
``disconnect_sockets``, ``sockets_join`` / ``sockets_leave``) asked of every other node, and
this node's answers to theirs.

A Redis request waits for as many answers as ``PUBLISH`` reached subscribers (minus this
node); an AMQP request waits for the nodes the heartbeats announced.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from nestpy.logger import Logger
from nestpy.websockets._broadcast import BroadcastOperator
from nestpy.websockets._cluster_errors import (
    AdapterError,
    BrokerUnavailableError,
    ClusterTimeoutError,
    error_reason,
)
from nestpy.websockets._cluster_wire import REQUEST, Selection
from nestpy.websockets._remote import RemoteSocket

if TYPE_CHECKING:
    from nestpy.websockets._brokers import AmqpPublisher, RedisPublisher
    from nestpy.websockets._engine import NestAsyncServer
    from nestpy.websockets._outage import BrokerLink
    from nestpy.websockets.socket import Socket

__all__ = ["ClusterRequests", "PendingRequest", "cluster_log", "socket_summary"]

#: The cluster managers' logger (membership, requests, answers).
cluster_log = Logger("nestpy.websockets.cluster")


def socket_summary(sock: Socket) -> dict[str, Any]:
    """What another node learns about *sock* (``RemoteSocket``'s fields)."""
    hs = sock.handshake
    return {
        "id": sock.id,
        "nsp": sock.namespace,
        "rooms": sorted(sock.rooms),
        "data": sock.data,
        "hs": {
            "headers": hs.headers,
            "query": hs.query,
            "auth": hs.auth,
            "address": hs.address,
            "time": hs.time,
            "issued": hs.issued,
            "url": hs.url,
            "secure": hs.secure,
        },
    }



class PendingRequest:
    """One request waiting for answers."""

    __slots__ = ("expected_count", "expected_nodes", "future", "responses")

    def __init__(self, future: asyncio.Future[None]) -> None:
        self.future = future
        self.responses: dict[str, dict[str, Any]] = {}
        self.expected_count: int | None = None
        self.expected_nodes: set[str] | None = None

    @property
    def expected(self) -> int:
        if self.expected_count is not None:
            return self.expected_count
        return len(self.expected_nodes or ()) + sum(
            1 for n in self.responses if n not in (self.expected_nodes or ())
        )

    def add(self, node: str, body: dict[str, Any]) -> None:
        self.responses.setdefault(node, body)
        self.check()

    def gone(self, node: str) -> None:
        if node in self.responses:
            return
        if self.expected_nodes is not None:
            self.expected_nodes.discard(node)
        elif self.expected_count is not None:
            self.expected_count -= 1
        self.check()

    def check(self) -> None:
        if self.future.done():
            return
        if self.expected_count is not None:
            done = len(self.responses) >= self.expected_count
        elif self.expected_nodes is not None:
            done = self.expected_nodes <= self.responses.keys()
        else:
            return
        if done:
            self.future.set_result(None)


class ClusterRequests:
    """The request/reply half of ``ClusterManager`` (a mixin; the manager provides the
    membership, the encoding and the publisher declared below)."""

    # Provided by ClusterManager and python-socketio's pub/sub manager.
    host_id: str
    server: Any
    link: BrokerLink
    request_timeout: float
    count_based: ClassVar[bool]
    broker_name: ClassVar[str]
    _pending: dict[str, PendingRequest]

    @property
    def broker_url(self) -> str:
        """The broker URL, password redacted."""
        raise NotImplementedError

    def alive_nodes(self) -> list[str]:
        """Ids of the other nodes heard from within the heartbeat timeout."""
        raise NotImplementedError

    def _fix(self) -> str:
        raise NotImplementedError

    def _encode(self, message: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def _encode_response(self, to: str, body: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def _get_publisher(self) -> RedisPublisher | AmqpPublisher:
        raise NotImplementedError

    async def _publish_quietly(self, payload: bytes) -> None:
        raise NotImplementedError

    # -- answering ----------------------------------------------------------------------

    async def _serve(self, request: dict[str, Any]) -> None:
        """Answer another node's request about the sockets connected here."""
        op = request.get("op")
        body: dict[str, Any] = {"req_id": request.get("req_id"), "from": self.host_id}
        try:
            sel = Selection.from_wire(request.get("sel") or {})
            args = request.get("args") or {}
            server: NestAsyncServer = self.server
            local = BroadcastOperator(
                server, sel.namespaces, sel.rooms, sel.except_rooms, sel.skip
            )._local_sockets()
            if op == "fetch":
                body["sockets"] = [socket_summary(s) for s in local]
            elif op == "disconnect":
                close = bool(args.get("close"))
                for sock in local:
                    await sock.disconnect(close=close)
            elif op in ("join", "leave"):
                rooms = [str(r) for r in args.get("rooms") or ()]
                for sock in local:
                    await (sock.join(rooms) if op == "join" else sock.leave(rooms))
            else:
                body["error"] = f"unknown cluster operation {op!r}"
        except Exception as exc:
            cluster_log.exception("cluster request failed", op=op)
            body = {
                "req_id": request.get("req_id"),
                "from": self.host_id,
                "error": error_reason(exc),
            }
        if request.get("reply", True) and request.get("host_id"):
            await self._publish_quietly(self._encode_response(str(request["host_id"]), body))

    # -- asking ---------------------------------------------------------------------------

    async def _request(
        self, operation: str, op: str, sel: Selection, args: dict[str, Any], local: list[Any]
    ) -> list[dict[str, Any]]:
        """Ask every other node; return their answers.

        Raises:
            BrokerUnavailableError: the request could not be published.
            ClusterTimeoutError: some node did not answer within ``request_timeout``.
            AdapterError: a node failed to carry the request out.
        """
        members = self.alive_nodes()
        if self.link.state in ("down", "resuming"):
            # Fail at once during an outage: a query cannot wait for the broker's return.
            raise BrokerUnavailableError(
                self.broker_name, self.broker_url, self.link.health().error or "outage",
                starting=False, fix=self._fix(), partial=list(local),
            )
        if not self.count_based and not members:
            return []  # alone (as far as the heartbeats tell): nobody to ask
        loop = asyncio.get_running_loop()
        req_id = uuid.uuid4().hex
        pending = self._pending[req_id] = PendingRequest(loop.create_future())
        try:
            payload = self._encode({
                "method": REQUEST, "host_id": self.host_id, "req_id": req_id, "op": op,
                "sel": sel.to_wire(), "args": args, "reply": True,
            })
            try:
                received_by = await self._get_publisher().publish(payload)
            except BrokerUnavailableError as exc:
                exc.partial = list(local)
                self.link.broken(exc)
                raise
            if self.count_based and received_by is not None:
                pending.expected_count = max(received_by - 1, 0)  # minus ourselves
            else:
                pending.expected_nodes = set(members)
            pending.check()
            try:
                await asyncio.wait_for(asyncio.shield(pending.future), self.request_timeout)
            except asyncio.TimeoutError:  # not the builtin on 3.10
                answers = list(pending.responses.values())
                missing = [n for n in self.alive_nodes() if n not in pending.responses]
                raise ClusterTimeoutError(
                    operation, self.request_timeout, pending.expected, len(answers), missing,
                    list(local) + self._remote_sockets(answers) if op == "fetch" else [],
                ) from None
            answers = list(pending.responses.values())
        finally:
            del self._pending[req_id]
        for answer in answers:
            if answer.get("error"):
                raise AdapterError(
                    f"{operation}() failed on node {answer.get('from')}: {answer['error']}"
                )
        return answers

    def _remote_sockets(self, answers: list[dict[str, Any]]) -> list[Any]:
        out: list[Any] = []
        for answer in answers:
            node = str(answer.get("from", ""))
            for summary in answer.get("sockets") or ():
                out.append(RemoteSocket(self.server, summary, node))
        return out

    async def nest_fetch_sockets(self, sel: Selection, local: list[Any]) -> list[Any]:
        """*local* plus the matching sockets of every other node."""
        answers = await self._request("fetch_sockets", "fetch", sel, {}, local)
        return list(local) + self._remote_sockets(answers)

    async def nest_apply(self, operation: str, op: str, sel: Selection, **args: Any) -> None:
        """Have every other node disconnect / join / leave its matching sockets."""
        await self._request(operation, op, sel, args, [])
