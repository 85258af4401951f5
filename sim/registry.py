"""A small typed registry for plug-ins (generators, mechanisms, behaviours).

Registering a name twice raises :class:`~sim.errors.DuplicateNameError`; asking for an
unknown name raises :class:`~sim.errors.UnknownNameError` listing the valid names, like
PettingZoo's and scikit-learn's registries.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from sim.errors import DuplicateNameError, InvalidParameterError, UnknownNameError

T = TypeVar("T")


#: Field metadata marking state a plug-in binds itself (``prepared``), not a parameter
#: a user sets: ``field(default=None, metadata=BOUND)``. Such fields are not accepted
#: by :meth:`Registry.make` and not listed by :func:`params_of`.
BOUND = {"bound": True}


def parameter_fields(cls: Any) -> list[dataclasses.Field[Any]]:
    """The fields of a plug-in class (or instance) that are user parameters."""
    return [
        f
        for f in dataclasses.fields(cls)
        if f.init and not f.name.startswith("_") and not f.metadata.get("bound", False)
    ]


class Registry(Generic[T]):
    """Name -> plug-in class; every class is a dataclass whose (init, unbound) fields
    are its parameters.

    Parameters
    ----------
    kind : str
        What the registry holds ("mechanism", "generator", ...), used in messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator registering ``cls`` under ``name`` (sets ``cls.name``)."""

        def decorator(cls: type[T]) -> type[T]:
            if name in self._items:
                raise DuplicateNameError(
                    f"{self.kind} {name!r} is already registered by "
                    f"{self._items[name].__qualname__}"
                )
            cls.name = name  # type: ignore[attr-defined]
            self._items[name] = cls
            return cls

        return decorator

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``."""
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}; valid names are {self.names()}"
            ) from None

    def make(self, name: str, **params: Any) -> T:
        """Instantiate ``name`` with ``params`` (validated by the class itself)."""
        cls = self.get(name)
        fields = {f.name for f in parameter_fields(cls)}
        unknown = sorted(set(params) - fields)
        if unknown:
            raise InvalidParameterError(
                f"{self.kind} {name!r} has no parameter(s) {unknown}; "
                f"its parameters are {sorted(fields)}"
            )
        return cls(**params)

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def describe(self) -> Mapping[str, dict[str, Any]]:
        """For each name: its docstring summary and its parameters with defaults."""
        out: dict[str, dict[str, Any]] = {}
        for name in self.names():
            cls = self._items[name]
            params = {
                f.name: (None if f.default is dataclasses.MISSING else f.default)
                for f in parameter_fields(cls)
            }
            doc = inspect.cleandoc(cls.__doc__ or "")
            summary = " ".join(doc.split("\n\n")[0].split())  # the first paragraph, whole
            out[name] = {"summary": summary, "params": params}
        return out


def params_of(obj: Any) -> dict[str, Any]:
    """A plug-in's parameters as a plain dict (see :func:`parameter_fields`)."""
    return {f.name: getattr(obj, f.name) for f in parameter_fields(obj)}
