"""nestpy's dependency-injection core: modules, providers and the container."""

from .container import Container as Container
from .container import ModuleNode as ModuleNode
from .decorators import Global as Global
from .decorators import Inject as Inject
from .decorators import Injectable as Injectable
from .decorators import Module as Module
from .lifecycle import call_hook as call_hook
from .providers import DynamicModule as DynamicModule
from .providers import Provider as Provider
from .scopes import Scope as Scope

__all__ = [
    "Container",
    "DynamicModule",
    "Global",
    "Inject",
    "Injectable",
    "Module",
    "ModuleNode",
    "Provider",
    "Scope",
    "call_hook",
]
