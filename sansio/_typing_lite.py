"""typing's names for the modules `import conch` loads, without importing typing.

Rules: pure, and imports nothing: importing `typing` costs ~2.5 ms, a tenth of `import
conch`. Type checkers see typing's own objects (re-exported under TYPE_CHECKING). At run
time the core uses these names only in type aliases, class statements and casts, so each
is the least that keeps those working: ``Any`` and ``TypeAlias`` are ``object``, ``cast``
returns its value, ``TypeVar`` returns the name it is given, ``Generic[...]``,
``Literal[...]`` and ``Protocol`` are empty classes, ``dataclass_transform`` leaves a class
as it is. A module that needs typing's own behaviour at run time imports typing itself,
where it is used (and is then off the plain import path).
"""

from __future__ import annotations

TYPE_CHECKING = False

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any as Any
    from typing import Generic as Generic
    from typing import Literal as Literal
    from typing import Protocol as Protocol
    from typing import TypeAlias as TypeAlias
    from typing import TypeVar as TypeVar
    from typing import cast as cast
    from typing import dataclass_transform as dataclass_transform
else:
    Any = TypeAlias = object

    def cast(typ, value):
        return value

    def TypeVar(name, *constraints, **options):
        return name

    class _Subscriptable:
        __slots__ = ()

        def __class_getitem__(cls, params):
            return cls

    class Generic(_Subscriptable):
        """A generic class's base: ``Generic[T]`` is this class."""

        __slots__ = ()

    class Literal(_Subscriptable):
        __slots__ = ()

    class Protocol:
        """A protocol's base: to type checkers `typing.Protocol`."""

        __slots__ = ()

    def dataclass_transform(**options):
        return lambda cls: cls


__all__ = [
    "TYPE_CHECKING",
    "Any",
    "Generic",
    "Literal",
    "Protocol",
    "TypeAlias",
    "TypeVar",
    "cast",
    "dataclass_transform",
]
