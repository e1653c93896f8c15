"""Guards: authentication on the handshake, roles from custom metadata (docs/guards.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, TypeVar

from nestpy import Injectable, Module
from nestpy.common import CanActivate, ExecutionContext, Reflector, SetMetadata, UseGuards
from nestpy.websockets import (
    ConnectedSocket,
    MessageBody,
    Socket,
    SubscribeMessage,
    WebSocketGateway,
)

T = TypeVar("T")


# --8<-- [start:roles]
def Roles(*roles: str) -> Callable[[T], T]:
    """The roles a handler (or every handler of a gateway) requires."""
    return SetMetadata("roles", roles)
# --8<-- [end:roles]


# --8<-- [start:auth]
@Injectable()
class AuthService:
    """Knows which token belongs to whom (a database in real life)."""

    USERS: ClassVar[dict[str, dict[str, Any]]] = {
        "alice-token": {"name": "alice", "roles": ["user", "admin"]},
        "bob-token": {"name": "bob", "roles": ["user"]},
    }

    def user_for(self, token: Any) -> dict[str, Any] | None:
        return self.USERS.get(token) if isinstance(token, str) else None


@Injectable()
class AuthGuard(CanActivate):
    """On the handshake, authenticate the `auth` token and remember the user;
    on every message, require that a user was remembered."""

    def __init__(self, auth: AuthService) -> None:  # injected by the container
        self.auth = auth

    def can_activate(self, context: ExecutionContext) -> bool:
        ws = context.switch_to_ws()
        client: Socket = ws.get_client()
        if ws.get_pattern() == "connection":
            # On the handshake get_data() is the client's `auth` object.
            user = self.auth.user_for(ws.get_data().get("token"))
            if user is None:
                return False  # the client gets connect_error "Forbidden resource"
            client.data["user"] = user
        return "user" in client.data
# --8<-- [end:auth]


# --8<-- [start:roles-guard]
@Injectable()
class RolesGuard(CanActivate):
    """Lets a call through when the user has one of the required roles."""

    def __init__(self, reflector: Reflector) -> None:
        self.reflector = reflector

    async def can_activate(self, context: ExecutionContext) -> bool:
        # The handler's @Roles overrides the gateway's.
        required = self.reflector.get_all_and_override(
            "roles", [context.get_handler(), context.get_class()]
        )
        if not required:
            return True
        user = context.switch_to_ws().get_client().data.get("user", {})
        return any(role in user.get("roles", ()) for role in required)
# --8<-- [end:roles-guard]


# --8<-- [start:gateway]
@Roles("user")
@UseGuards(AuthGuard, RolesGuard)  # class level: AuthGuard also guards the handshake
@WebSocketGateway(namespace="admin")
class AdminGateway:
    banned: list[str]

    def __init__(self) -> None:
        self.banned = []

    @SubscribeMessage("whoami")
    def whoami(self, client: Annotated[Socket, ConnectedSocket()]) -> str:
        return str(client.data["user"]["name"])

    @Roles("admin")
    @SubscribeMessage("ban")
    def ban(self, user: Annotated[str, MessageBody("user")]) -> list[str]:
        self.banned.append(user)
        return self.banned


@Module(providers=[AuthService, AdminGateway])
class AdminModule: ...
# --8<-- [end:gateway]
