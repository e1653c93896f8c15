"""Lifecycle hooks: call ``on_module_init`` & co. on providers and modules, sync or async."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .container import Container

__all__ = ["INIT_HOOKS", "SHUTDOWN_HOOKS", "call_hook", "hook_order"]

INIT_HOOKS = ("on_module_init", "on_application_bootstrap")
"""Start-up hooks, in the order the application calls them."""

SHUTDOWN_HOOKS = ("on_module_destroy", "before_application_shutdown", "on_application_shutdown")
"""Shutdown hooks, in the order the application calls them (the server closes in between
``before_application_shutdown`` and ``on_application_shutdown``, as NestJS's ``dispose``)."""


async def call_hook(
    instances: Iterable[Any],
    name: str,
    *args: Any,
    on_error: Callable[[Any, Exception], None] | None = None,
) -> None:
    """Call ``instance.<name>(*args)`` on every instance that has it, one after the other.

    Sync and async hooks are both accepted: a returned awaitable is awaited before the next
    instance's hook runs. Classes (e.g. ``Provider(X, use_value=SomeClass)``) are skipped.

    Args:
        instances: the targets, already in order (see :func:`hook_order`).
        name: the hook method's name, e.g. ``"on_module_init"``.
        *args: passed to each hook, e.g. the signal name for the shutdown hooks.
        on_error: when given, called with ``(instance, exception)`` for a hook that raises,
            and the remaining hooks still run (NestJS 12 logs and continues on shutdown).

    Raises:
        Whatever a hook raises, when *on_error* is not given; later hooks do not run.
    """
    # NestJS starts the hooks of one module together (Promise.all); nestpy runs them one at a
    # time so that the order is deterministic and a hook may rely on the ones before it.
    for instance in instances:
        if instance is None or isinstance(instance, type):
            continue
        hook = getattr(instance, name, None)
        if not callable(hook):
            continue
        try:
            result = hook(*args)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            if on_error is None:
                raise
            on_error(instance, exc)


def hook_order(container: Container, name: str) -> list[Any]:
    """The instances to call hook *name* on, in NestJS's order.

    Start-up hooks (``on_module_init``, ``on_application_bootstrap``) go deepest module
    first; the shutdown hooks go root first. Within a module: providers in declaration order,
    then the module class instance.
    """
    # NestJS 11 nest-application-context.ts: callInitHook/callBootstrapHook iterate
    # getModulesToTriggerHooksOn() (distance descending); callDestroyHook, callBeforeShutdownHook
    # and callShutdownHook iterate [...getModulesToTriggerHooksOn()].reverse(); each module's
    # hook calls its providers first and the module class instance last (hooks/*.hook.ts).
    modules = container.modules
    if name in SHUTDOWN_HOOKS:
        modules = list(reversed(modules))
    return [obj for node in modules for obj in container.module_instances(node)]
