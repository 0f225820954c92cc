"""`Frozen`: a frozen, slotted dataclass written by hand, for values defined on the import path.

Rules: pure (no I/O, like all of `sansio`); a subclass behaves as the frozen, slotted
dataclass it replaces: equality and hashing by field values (same class only), a repr
naming the fields, `dataclasses.FrozenInstanceError` on assignment, ``__match_args__``,
pickling and copying, and ``__replace__`` for what `dataclasses.replace` did
(`copy.replace` from Python 3.13).
Type checkers see a frozen dataclass (`dataclass_transform`).

Why not `@dataclass`: it writes each class's methods with `exec` when the class is
created (about 0.3 ms a class), and importing `dataclasses` loads `inspect`, `ast`, `dis`
and `tokenize` (about 7 ms): a third of `import conch` when every value class used it.

A subclass annotates its fields, in order, and names them in ``__slots__``; its
``__init__`` sets them with `set_field` (``object.__setattr__``, as a frozen dataclass's
generated ``__init__`` does). Pass ``kw_only=True`` in the class statement when
``__init__`` takes keyword arguments only (no positional ``__match_args__`` then, unless
the class sets its own); name fields to leave out of the repr in ``_hidden``. A field whose
name starts with ``_`` is derived by ``__init__`` (not an argument): out of the repr, and
not passed on by ``__replace__``.

`NamedTuple` is `typing.NamedTuple` to type checkers, and at run time a class statement
using it gives the same `collections.namedtuple` class, without what `typing` adds: it
turns each field's annotation (a string here, under ``from __future__ import
annotations``) into a compiled ForwardRef, about 0.4 ms a class on the import path. Fields
take no defaults.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable

from ._typing_lite import TYPE_CHECKING, Any, dataclass_transform

if TYPE_CHECKING:  # pragma: no cover
    from typing import ClassVar, Self

# How an `__init__` sets a field past the class's `__setattr__`, which refuses.
set_field = object.__setattr__


def slot_setters(cls: type, *names: str) -> tuple[Callable[[Any, Any], None], ...]:
    """Setters ``setter(instance, value)`` for the slots ``names`` of ``cls``: what
    `set_field` does without looking the name up each time, for the values made on
    every request (about 35 ns a field saved)."""
    return tuple(cls.__dict__[name].__set__ for name in names)


@dataclass_transform(frozen_default=True)
class Frozen:
    """Base of the core's small immutable values (see the module docstring)."""

    __slots__: ClassVar[tuple[str, ...]] = ()
    _hidden: ClassVar[frozenset[str]] = frozenset()
    _field_names: ClassVar[tuple[str, ...]] = ()  # in the order of their annotations

    def __init_subclass__(cls, *, kw_only: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        slots = cls.__dict__.get("__slots__", ())
        # The class's own annotations, in order (`inspect.get_annotations` would load inspect).
        annotations = cls.__dict__.get("__annotations__", {})  # noqa: RUF063
        fields = tuple(name for name in annotations if name in slots)
        if len(fields) != len(slots):
            raise TypeError(f"{cls.__qualname__}: annotate every name in __slots__")
        cls._field_names = fields
        cls._hidden = cls._hidden | {name for name in fields if name.startswith("_")}
        if "__match_args__" not in cls.__dict__:
            # Set as `dataclass` does (type checkers derive their own, refuse assignment).
            type.__setattr__(cls, "__match_args__", () if kw_only else fields)

    def _fields(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self._field_names])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is self.__class__:
            return self._fields() == other._fields()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._fields())

    def __replace__(self, **changes: Any) -> Self:
        """A copy with ``changes`` made (through ``__init__``, so they are checked)."""
        given = {name: getattr(self, name) for name in self._field_names if name[0] != "_"}
        return self.__class__(**{**given, **changes})

    def __repr__(self) -> str:
        hidden = self._hidden
        fields = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self._field_names if name not in hidden
        )
        return f"{self.__class__.__qualname__}({fields})"

    # Pickle and copy restore the fields past `__setattr__`, as a frozen dataclass does.
    def __getstate__(self) -> tuple[object, ...]:
        return self._fields()

    def __setstate__(self, state: tuple[object, ...]) -> None:
        for name, value in zip(self._field_names, state, strict=True):
            set_field(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise _frozen_error(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise _frozen_error(f"cannot delete field {name!r}")


def _frozen_error(message: str) -> Exception:
    # The exception a frozen dataclass raises; `dataclasses` is loaded only on this path.
    from dataclasses import FrozenInstanceError

    return FrozenInstanceError(message)


# Called with names not known to a type checker, which it refuses for `namedtuple` itself.
_namedtuple: Callable[..., type] = namedtuple


class _NamedTupleMeta(type):
    # Builds the class a `NamedTuple` class statement defines: `collections.namedtuple`
    # of the annotated names, with the statement's methods, properties and docstring.
    def __new__(cls, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> Any:
        fields = namespace.get("__annotations__", {})
        built: type = _namedtuple(name, fields, module=namespace["__module__"])
        for key, value in namespace.items():
            setattr(built, key, value)
        return built


# Made past the metaclass's `__new__`, which would make it a tuple class itself.
_NamedTupleBase = type.__new__(_NamedTupleMeta, "_NamedTupleBase", (), {})


class _NamedTupleEntry:
    # `class X(NamedTuple)` names an instance of this: the class statement takes the
    # base it returns, whose metaclass builds the tuple class.
    def __mro_entries__(self, bases: tuple[object, ...]) -> tuple[type, ...]:
        return (_NamedTupleBase,)


if TYPE_CHECKING:  # pragma: no cover
    from typing import NamedTuple as NamedTuple
else:
    NamedTuple = _NamedTupleEntry()
