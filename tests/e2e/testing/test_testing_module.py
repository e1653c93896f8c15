"""Test.create_testing_module: overrides of providers and enhancers, over a real server."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import pytest

from nestpy import BootstrapError, Inject, Injectable, Module, Provider
from nestpy.common import (
    ArgumentMetadata,
    ArgumentsHost,
    ExecutionContext,
    UseFilters,
    UseGuards,
    UseInterceptors,
    UsePipes,
)
from nestpy.testing import ConnectionRefused, Test, TestingModule
from nestpy.websockets import MessageBody, SubscribeMessage, WebSocketGateway

pytestmark = pytest.mark.e2e


def _load_seed() -> ModuleType:
    """examples/channels/app.py under a private name (it is not a package)."""
    path = Path(__file__).resolve().parents[3] / "examples" / "channels" / "app.py"
    spec = importlib.util.spec_from_file_location("nestpy_testing_seed_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


ChannelsGateway = _load_seed().ChannelsGateway


@Injectable
class Greeter:
    def greet(self, name: str) -> str:
        return f"Hello {name}"


@WebSocketGateway(namespace="greet")
class GreetGateway:
    def __init__(self, greeter: Greeter) -> None:
        self.greeter = greeter

    @SubscribeMessage("greet")
    def greet(self, name: Annotated[str, MessageBody()]) -> str:
        return self.greeter.greet(name)


@Module(providers=[Greeter, GreetGateway])
class GreetModule: ...


class FakeGreeter:
    def greet(self, name: str) -> str:
        return f"fake {name}"


async def test_docs_example_channels_gateway_replies() -> None:
    """The example of docs/testing.md, verbatim."""
    module = await Test.create_testing_module(providers=[ChannelsGateway]).compile()
    async with module.create_nest_application() as app:
        async with app.test_client("/channels") as client:
            await client.emit("ClientToServer", "hi")
            assert await client.receive("ServerToClient", timeout=2) == "Hello Client!"


async def test_without_overrides_the_real_provider_serves() -> None:
    module = await Test.create_testing_module(imports=[GreetModule]).compile()
    assert isinstance(module.get(Greeter), Greeter)
    async with module.create_nest_application() as app, app.test_client("/greet") as client:
        assert await client.call("greet", "Ada") == "Hello Ada"


async def test_override_provider_use_value_reaches_the_gateway() -> None:
    fake = FakeGreeter()
    module = await (
        Test.create_testing_module(imports=[GreetModule])
        .override_provider(Greeter)
        .use_value(fake)
        .compile()
    )
    assert module.get(Greeter) is fake
    assert module.get(GreetGateway).greeter is fake
    async with module.create_nest_application() as app, app.test_client("/greet") as client:
        assert await client.call("greet", "Ada") == "fake Ada"


@Injectable
class Punctuation:
    mark = "!"


@Module(providers=[Punctuation], exports=[Punctuation])
class PunctuationModule: ...


class LoudGreeter:
    """A replacement class with a dependency of its own, injected by the container."""

    def __init__(self, punctuation: Punctuation) -> None:
        self.punctuation = punctuation

    def greet(self, name: str) -> str:
        return f"HELLO {name.upper()}{self.punctuation.mark}"


@Module(imports=[PunctuationModule], providers=[Greeter, GreetGateway])
class GreetWithPunctuationModule: ...


async def test_override_provider_use_class_over_a_real_connection() -> None:
    module = await (
        Test.create_testing_module(imports=[GreetWithPunctuationModule])
        .override_provider(Greeter)
        .use_class(LoudGreeter)
        .compile()
    )
    async with module.create_nest_application() as app, app.test_client("/greet") as client:
        assert await client.call("greet", "ada") == "HELLO ADA!"


async def test_override_use_class_with_an_invisible_dependency_fails_compile() -> None:
    """The replacement is wired like any provider: its module must see its dependencies."""
    builder = Test.create_testing_module(imports=[GreetModule])
    builder.override_provider(Greeter).use_class(LoudGreeter)
    with pytest.raises(BootstrapError, match=r"Punctuation.*GreetModule"):
        await builder.compile()


async def test_override_provider_use_factory_with_inject() -> None:
    """use_factory with inject=[...]: the factory receives the resolved tokens."""

    @WebSocketGateway(namespace="config")
    class ConfigGateway:
        def __init__(self, url: Annotated[str, Inject("URL")]) -> None:
            self.url = url

        @SubscribeMessage("url")
        def get_url(self) -> str:
            return self.url

    module = await (
        Test.create_testing_module(
            providers=[
                Provider("HOST", use_value="db.test"),
                Provider("URL", use_value="postgres://prod"),
                ConfigGateway,
            ]
        )
        .override_provider("URL")
        .use_factory(lambda host: f"postgres://{host}", inject=["HOST"])
        .compile()
    )
    assert module.get("URL") == "postgres://db.test"
    async with module.create_nest_application() as app, app.test_client("/config") as client:
        assert await client.call("url") == "postgres://db.test"


# --- enhancers --------------------------------------------------------------------------


class DenyAll:
    def can_activate(self, context: ExecutionContext) -> bool:
        return False


class AllowAll:
    def can_activate(self, context: ExecutionContext) -> bool:
        return True


@WebSocketGateway(namespace="vault")
@UseGuards(DenyAll)
class VaultGateway:
    @SubscribeMessage("open")
    def open(self) -> str:
        return "opened"


@WebSocketGateway(namespace="safe")
class SafeGateway:
    @UseGuards(DenyAll)
    @SubscribeMessage("open")
    def open(self) -> str:
        return "opened"


async def test_class_guard_refuses_the_handshake_without_override() -> None:
    module = await Test.create_testing_module(providers=[VaultGateway]).compile()
    async with module.create_nest_application() as app:
        with pytest.raises(ConnectionRefused) as info:
            async with app.test_client("/vault"):
                pass
    assert info.value.namespace == "/vault"
    assert info.value.message == "Forbidden resource"


async def test_override_guard_use_value_replaces_a_class_guard() -> None:
    module = await (
        Test.create_testing_module(providers=[VaultGateway])
        .override_guard(DenyAll)
        .use_value(AllowAll())
        .compile()
    )
    async with module.create_nest_application() as app, app.test_client("/vault") as client:
        assert await client.call("open") == "opened"


async def test_override_guard_use_class_replaces_a_method_guard() -> None:
    plain = await Test.create_testing_module(providers=[SafeGateway]).compile()
    async with plain.create_nest_application() as app, app.test_client("/safe") as client:
        refused = await client.call("open")
        assert refused["message"] == "Forbidden resource"

    module = await (
        Test.create_testing_module(providers=[SafeGateway])
        .override_guard(DenyAll)
        .use_class(AllowAll)
        .compile()
    )
    async with module.create_nest_application() as app, app.test_client("/safe") as client:
        assert await client.call("open") == "opened"


class Tagging:
    async def intercept(self, context: ExecutionContext, call_next: Any) -> Any:
        return {"tagged": await call_next()}


@WebSocketGateway(namespace="tagged")
@UseInterceptors(Tagging)
class TaggedGateway:
    @SubscribeMessage("value")
    def value(self) -> int:
        return 1


class Passthrough:
    async def intercept(self, context: ExecutionContext, call_next: Any) -> Any:
        return await call_next()


async def test_override_interceptor_use_value() -> None:
    module = await Test.create_testing_module(providers=[TaggedGateway]).compile()
    async with module.create_nest_application() as app, app.test_client("/tagged") as client:
        assert await client.call("value") == {"tagged": 1}
    module = await (
        Test.create_testing_module(providers=[TaggedGateway])
        .override_interceptor(Tagging)
        .use_value(Passthrough())
        .compile()
    )
    async with module.create_nest_application() as app, app.test_client("/tagged") as client:
        assert await client.call("value") == 1


class Doubling:
    def transform(self, value: Any, metadata: ArgumentMetadata) -> Any:
        return value * 2


class Identity:
    def transform(self, value: Any, metadata: ArgumentMetadata) -> Any:
        return value


class Apologizing:
    def catch(self, exception: Exception, host: ArgumentsHost) -> Any:
        return "sorry"


class Blunt:
    def catch(self, exception: Exception, host: ArgumentsHost) -> Any:
        return f"failed: {exception}"


@WebSocketGateway(namespace="math")
class MathGateway:
    @UsePipes(Doubling)
    @SubscribeMessage("value")
    def value(self, data: Annotated[int, MessageBody()]) -> int:
        return data

    @UseFilters(Apologizing)
    @SubscribeMessage("fail")
    def fail(self) -> None:
        raise ValueError("boom")


async def test_override_pipe_and_filter() -> None:
    module = await Test.create_testing_module(providers=[MathGateway]).compile()
    async with module.create_nest_application() as app, app.test_client("/math") as client:
        assert await client.call("value", 21) == 42
        assert await client.call("fail") == "sorry"
    module = await (
        Test.create_testing_module(providers=[MathGateway])
        .override_pipe(Doubling)
        .use_class(Identity)
        .override_filter(Apologizing)
        .use_value(Blunt())
        .compile()
    )
    async with module.create_nest_application() as app, app.test_client("/math") as client:
        assert await client.call("value", 21) == 21
        assert await client.call("fail") == "failed: boom"


def test_override_guard_refuses_an_instance() -> None:
    builder = Test.create_testing_module(providers=[VaultGateway])
    with pytest.raises(TypeError, match="takes the class"):
        builder.override_guard(DenyAll())  # type: ignore[arg-type]


# --- the module itself ---------------------------------------------------------------------


async def test_compile_raises_bootstrap_errors_before_any_port() -> None:
    @Injectable
    class NeedsGreeter:
        def __init__(self, greeter: Greeter) -> None: ...

    with pytest.raises(BootstrapError, match="Greeter"):
        await Test.create_testing_module(providers=[NeedsGreeter]).compile()


def test_create_testing_module_rejects_a_provider_in_imports() -> None:
    with pytest.raises(BootstrapError, match="not a module"):
        Test.create_testing_module(imports=[Greeter()])


async def test_application_is_not_listening_until_started() -> None:
    module = await Test.create_testing_module(imports=[GreetModule]).compile()
    app = module.create_nest_application()
    assert app.ports == {}
    await app.listen(0, "127.0.0.1", ephemeral_gateways=True)
    try:
        async with app.test_client("/greet") as client:
            assert await client.call("greet", "Bo") == "Hello Bo"
    finally:
        await module.close()  # closes every application created from the module
    assert isinstance(module, TestingModule)
    with pytest.raises(ConnectionError):
        async with app.test_client("/greet", timeout=1):
            pass
