"""What the store keys an editor's or a judge's results by: a declared name and version, and the
settings that determine its outputs.

A fingerprint is ``{"name": ..., "version": ..., **settings}``. The name is declared on the
class, never derived from where the class lives, so that moving or renaming a module leaves
every stored edit and judgement reachable.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]*")
# "class" held a module path in the store's first format; no fingerprint may hold it again,
# which is how `python -m editbench.store migrate` tells an old fingerprint from a new one.
RESERVED_KEYS = frozenset({"name", "version", "class"})


class Declared(ABC):
    """A class whose results the store keys by :meth:`fingerprint`.

    A concrete subclass declares two class attributes and implements :meth:`settings`:

    - ``name``: a stable name of lowercase letters, digits, ``_`` and ``-`` (so never a module
      path). A subclass inherits its parent's name, and with it the parent's stored results: a
      subclass whose outputs differ from its parent's (other weights, another algorithm)
      declares a name of its own.
    - ``version``: an integer from 1. Bumping it is how a class says that its outputs changed
      for the same settings (a fixed bug, another preprocessing): results stored under the
      earlier version are no longer reused.

    :meth:`fingerprint` is built here and only here: a class that defines its own is refused
    when it is defined, and so is a concrete class without a valid name or version.
    """

    name: ClassVar[str]
    version: ClassVar[int]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "fingerprint" in vars(cls):
            raise TypeError(
                f"{cls.__qualname__} defines fingerprint(); it is built from the declared name, "
                "version and settings(): override settings() instead"
            )
        if not _is_abstract(cls):
            check_declared(cls)

    def fingerprint(self) -> dict[str, Any]:
        """The declared name and version, and :meth:`settings` (JSON-serialisable)."""
        return declared_fingerprint(type(self).name, type(self).version, self.settings())

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """Everything besides the request and the class's identity that determines an output
        (JSON-serialisable, keys other than name, version and class)."""


def declared_fingerprint(name: str, version: int, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The fingerprint of ``settings`` under ``name`` and ``version``."""
    reserved = sorted(RESERVED_KEYS & settings.keys())
    if reserved:
        raise TypeError(
            f"settings of {name!r} hold the reserved key(s) {reserved}; expected only the "
            "settings, as the name and version are added from the class"
        )
    return {"name": name, "version": version, **settings}


def check_declared(cls: type) -> None:
    """Raise :class:`TypeError` unless ``cls`` declares (or inherits) a valid name and version."""
    name, version = getattr(cls, "name", None), getattr(cls, "version", None)
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise TypeError(
            f"{cls.__qualname__} declares name={name!r}; expected a class attribute such as "
            "name = 'my_editor' (lowercase letters, digits, '_' and '-'): the store keys its "
            "results by it"
        )
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise TypeError(
            f"{cls.__qualname__} declares version={version!r}; expected a class attribute such "
            "as version = 1 (an integer from 1, bumped when its outputs change)"
        )


def _is_abstract(cls: type) -> bool:
    """Whether ``cls`` leaves an abstract method unimplemented. ABCMeta settles this only after
    ``__init_subclass__`` has run, so it is worked out here the way ABCMeta does."""
    if any(getattr(value, "__isabstractmethod__", False) for value in vars(cls).values()):
        return True
    return any(
        getattr(getattr(cls, name, None), "__isabstractmethod__", False)
        for base in cls.__bases__
        for name in getattr(base, "__abstractmethods__", ())
    )
