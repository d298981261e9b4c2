"""Registries of things that come in kinds, built from ``{type: name, ...kwargs}`` config blocks.

An entry is a keyword-only factory function registered under a name::

    LOSS_TERMS = Registry("loss term", builtins=("vosvfi_core.training.losses",))

    @LOSS_TERMS.register("charbonnier", aliases=("Charb",))
    def charbonnier(*, weight: float = 1.0, eps: float = 1e-3) -> LossTerm: ...

The factory's signature is its config schema: a pydantic model is derived from its keyword
parameters (annotations and defaults), so ``{type: charbonnier, weigth: 1}`` is refused with a
one-line error naming the field, and ``{type: charbonnier, weight: "x"}`` with one naming the
value. Factories may take leading positional parameters for run-time context (a device, a
checkpoint path) that never come from a config file.

``builtins`` names the modules whose import registers the project's own entries; they are
imported the first time the registry is asked for a name, so that config validation sees them
without the config module importing every model and loss at start-up.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, create_model, model_validator

from vosvfi_core.errors import VosvfiError

__all__ = ["Block", "Entry", "Registry", "block_field"]

T = TypeVar("T")


class Block(BaseModel):
    """A config block: ``type`` names a registry entry, every other key is an argument of its factory."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value  # ``- frame_average`` for ``- {type: frame_average}``

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def __str__(self) -> str:
        args = ", ".join(f"{k}: {v}" for k, v in self.kwargs.items())
        return f"{{type: {self.type}{', ' + args if args else ''}}}"


@dataclass(frozen=True)
class Entry(Generic[T]):
    name: str
    factory: Callable[..., T]
    params: type[BaseModel]  # the factory's keyword parameters as a pydantic model
    aliases: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        doc = inspect.getdoc(self.factory) or ""
        return doc.splitlines()[0] if doc else ""


def _params_model(name: str, factory: Callable[..., Any]) -> type[BaseModel]:
    """A pydantic model of the factory's keyword-only parameters (forbidding any other key)."""
    fields: dict[str, Any] = {}
    hints = inspect.get_annotations(factory, eval_str=True)
    for parameter in inspect.signature(factory).parameters.values():
        if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        annotation = hints.get(parameter.name, Any)
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (annotation, default)
    return create_model(f"{name}_params", __config__=ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True), **fields)


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    message = "unknown argument" if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, ")
    return f"{field}: {message}" if field else message


class Registry(Generic[T]):
    """Named factories of one kind (loss terms, metrics, interpolators, …)."""

    def __init__(self, kind: str, *, builtins: Iterable[str] = ()) -> None:
        self.kind = kind
        self._builtins = tuple(builtins)
        self._loaded = not self._builtins
        self._entries: dict[str, Entry[T]] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, *, aliases: Iterable[str] = ()) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator: register ``factory`` under ``name`` (and ``aliases``); a taken name is an error."""

        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            for key in (name, *aliases):
                if key in self._entries or key in self._aliases:
                    raise ValueError(f"{self.kind} {key!r} is registered twice")
            self._entries[name] = Entry(name, factory, _params_model(name, factory), tuple(aliases))
            self._aliases.update({alias: name for alias in aliases})
            return factory

        return decorator

    def unregister(self, name: str) -> None:
        """Remove an entry (tests register toy entries and clean up after themselves)."""
        entry = self._entries.pop(name)
        for alias in entry.aliases:
            self._aliases.pop(alias, None)

    def _load_builtins(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._builtins:
                importlib.import_module(module)

    def names(self) -> list[str]:
        self._load_builtins()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load_builtins()
        return name in self._entries or name in self._aliases

    def entry(self, name: str) -> Entry[T]:
        self._load_builtins()
        canonical = self._aliases.get(name, name)
        if canonical not in self._entries:
            raise VosvfiError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        return self._entries[canonical]

    def check(self, block: Block | Mapping[str, Any]) -> Block:
        """The block with its type made canonical and its arguments validated (defaults filled in)."""
        block = block if isinstance(block, Block) else Block.model_validate(block)
        try:
            entry = self.entry(block.type)
        except VosvfiError as error:
            raise ValueError(str(error)) from None
        try:
            params = entry.params.model_validate(block.kwargs)
        except ValidationError as error:
            raise ValueError(f"{self.kind} {entry.name}: {_first_problem(error)}") from None
        return Block.model_validate({"type": entry.name, **params.model_dump()})

    def build(self, block: Block | Mapping[str, Any], *context: Any) -> T:
        """Call the block's factory with ``context`` (positional, run-time values) and its arguments."""
        try:
            checked = self.check(block)
        except ValueError as error:
            raise VosvfiError(str(error)) from None
        entry = self.entry(checked.type)
        params = entry.params.model_validate(checked.kwargs)
        return entry.factory(*context, **{name: getattr(params, name) for name in type(params).model_fields})


def block_field(registry: Registry[Any]) -> Any:
    """The annotation of a config field holding one block of ``registry``: ``losses: list[block_field(LOSS_TERMS)]``."""
    return Annotated[Block, AfterValidator(registry.check)]
