"""A component's description, spelt once: a frozen dataclass of its settings.

Each component a simulation adds (a topic, a queue, a fanout, a producer, a consumer
group) has a config class: its fields are the keyword arguments of the ``Simulation``
method that adds it, its docstring describes each field once (with its unit and the real
system's default), and its ``__post_init__`` checks them and keeps their normal form. The
method's signature and help are generated from the class (:func:`describe`), the scenario
loader checks a file's entries against that signature, and the component is built from
the checked config, so the three never drift apart.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any, ClassVar, Self, TypeVar

from evsim._check import did_you_mean
from evsim.errors import ConfigTypeError, EvsimError

UNEXPECTED = re.compile(r"unexpected keyword argument '(\w+)'")


@dataclass(frozen=True)
class ComponentConfig:
    """The base of the config classes: building from a method's arguments, and keeping
    the checked values of a frozen instance."""

    METHOD: ClassVar[str] = ""
    """The ``Simulation`` method that takes these fields, as errors name it."""

    @classmethod
    def build(cls, *args: Any, **options: Any) -> Self:
        """``cls(*args, **options)``, with a misspelt or surplus argument refused as a
        :class:`~evsim.errors.ConfigTypeError` that lists the fields."""
        try:
            return cls(*args, **options)
        except EvsimError:
            raise
        except TypeError as err:
            wording = str(err).replace(f"{cls.__name__}.__init__()", f"{cls.METHOD}()")
            unknown = UNEXPECTED.search(wording)
            hint = did_you_mean(unknown.group(1), _field_set(cls)) if unknown else ""
            raise ConfigTypeError(
                f"{cls.METHOD}: {wording};{hint} fields: {field_names(cls)}"
            ) from err

    def _keep(self, checked: Mapping[str, Any]) -> None:
        """Set the checked fields (frozen: once, from ``__post_init__``)."""
        for field, value in checked.items():
            object.__setattr__(self, field, value)


def field_names(config: type[ComponentConfig]) -> str:
    """The fields of ``config``, comma-separated, in the order of its signature."""
    return ", ".join(f.name for f in fields(config) if f.name != "_")


def method_signature(config: type[ComponentConfig], returns: str) -> inspect.Signature:
    """The signature of a method taking ``config``'s fields: what ``help()`` shows and
    what the scenario loader checks an entry's fields against."""
    parameters = list(inspect.signature(config).parameters.values())
    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return inspect.Signature([this, *parameters], return_annotation=returns)


def with_fields(method_doc: str | None, config: type[ComponentConfig]) -> str:
    """A method's docstring followed by ``config``'s (without its first line): its fields'
    descriptions, written once, shown by ``help(sim.topic)``."""
    fields_doc = inspect.cleandoc(config.__doc__ or "").split("\n", 1)[-1].strip()
    return inspect.cleandoc(method_doc or "") + "\n\n" + fields_doc


def describe(method: Callable[..., Any], config: type[ComponentConfig], returns: str) -> None:
    """Give ``method`` (which takes ``*args, **options`` for ``config``) the signature and
    the help of ``config``'s fields."""
    method.__signature__ = method_signature(config, returns)  # type: ignore[attr-defined]
    method.__doc__ = with_fields(method.__doc__, config)


Component = TypeVar("Component", bound=type)


def reads_settings(config: type[ComponentConfig], *own: str) -> Callable[[Component], Component]:
    """A class decorator: each field of ``config`` reads as a property of the component
    (``group.service_time`` is ``group.config.service_time``), except the attributes the
    component sets itself (``own``, and those its class defines, such as slots).

    Properties, not ``__getattr__``: a class with ``__getattr__`` loses CPython 3.11's
    specialized attribute reads on every instance, and a group's are read per event.
    """

    def decorate(cls: Component) -> Component:
        for name in sorted(_field_set(config) - set(own)):
            if not hasattr(cls, name):
                setattr(cls, name, property(attrgetter(f"config.{name}"), doc=f"config.{name}"))
        return cls

    return decorate


_FIELD_SETS: dict[type[ComponentConfig], frozenset[str]] = {}


def _field_set(config: type[ComponentConfig]) -> frozenset[str]:
    names = _FIELD_SETS.get(config)
    if names is None:
        names = _FIELD_SETS[config] = frozenset(f.name for f in fields(config) if f.name != "_")
    return names
