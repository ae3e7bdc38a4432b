"""Decoding stored events for the views, faster than eventsourcing's generic mapper.

eventsourcing's JSONTranscoder parses each event's state with the standard library's
json module and calls a Python hook on every JSON object in it, to turn
`{"_type_": ..., "_data_": ...}` back into a date, a datetime or a UUID. Reading the log
is most of what a rebuild does, and about two thirds of that is this decoding.

`FastMapper` gives the same events for less: orjson parses the state (several times
faster than the standard library), and only the fields that can hold such objects are
looked at. Which those are follows from each event class's annotations, once per class:
a field declared as text, numbers, booleans, or lists and dicts of those is left as
parsed; any other field (a date, a UUID, `Any`, one the class does not declare) goes
through the same conversion eventsourcing's hook makes. Anything it might not handle
the same way (a cipher, a compressor, a state orjson refuses, a number orjson would read
as a float, a type nobody registered) goes to eventsourcing's own code.
tests/test_event_decoding.py checks that both give equal events.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoder,
    find_id_convertor,
)
from eventsourcing.utils import resolve_topic

# What JSON gives back as it is: a field declared as one of these (or as a list, a dict,
# an optional or a union of them) never holds a transcoded object.
_PLAIN = frozenset({str, int, float, bool, type(None)})
_CONTAINERS = frozenset({list, dict, typing.Union, types.UnionType})


def _is_plain(hint: Any) -> bool:
    if hint in _PLAIN:
        return True
    origin = typing.get_origin(hint)
    return origin in _CONTAINERS and all(_is_plain(arg) for arg in typing.get_args(hint))


_SET_BY_THE_MAPPER = frozenset({"originator_id", "originator_version"})


def _typed_fields(cls: type) -> tuple[str, ...] | None:
    """The fields of an event class that may hold a transcoded object, or None when
    the class's annotations do not resolve (then every field is looked at)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception:
        return None
    return tuple(
        name
        for name, hint in hints.items()
        # The mapper sets these two itself; a class variable is never in a state.
        if name not in _SET_BY_THE_MAPPER
        and typing.get_origin(hint) is not typing.ClassVar
        and not _is_plain(hint)
    )


# orjson reads an integer outside [-2**63, 2**64 - 1] as a float, json as an int. Such an
# integer has 19 digits or more (-2**63 - 1 has 19), so a state with 19 digits in a row
# (or just digits in a text) goes to eventsourcing. They are found by mapping every
# digit to "0" and anything else to " ": a regular expression takes four times as long
# on the digits of timestamps and sealed texts.
_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_NUMBER = b"0" * 19


class _Unregistered(Exception):
    """A `_type_` no transcoding is registered for."""


@dataclass(frozen=True, slots=True)
class _Plan:
    """How to decode the events of one topic."""

    cls: type
    typed: tuple[str, ...] | None  # the fields to convert; None: every field
    declared: frozenset[str]  # a state with any other field has every field converted
    id_type: type  # of the originator ids the plan was made for
    id_convertor: Callable[[Any], Any]
    class_version: int


class FastMapper(Mapper[UUID]):
    """eventsourcing's Mapper, with a faster `to_domain_event` for a JSONTranscoder."""

    def __init__(self, transcoder: Transcoder) -> None:
        super().__init__(transcoder)
        self._fast = isinstance(transcoder, JSONTranscoder)
        self._transcodings = transcoder.names if isinstance(transcoder, JSONTranscoder) else {}
        self._plans: dict[str, _Plan] = {}

    def _plan(self, topic: str, id_type: type) -> _Plan:
        cls = resolve_topic(topic)
        typed = _typed_fields(cls)
        plan = self._plans[topic] = _Plan(
            cls,
            typed,
            frozenset(typing.get_type_hints(cls)) if typed is not None else frozenset(),
            id_type,
            find_id_convertor(cls, id_type),
            getattr(cls, "class_version", 1),
        )
        return plan

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        if not self._fast or self.cipher or self.compressor:
            return super().to_domain_event(stored_event)
        if _LONG_NUMBER in stored_event.state.translate(_DIGITS):
            return super().to_domain_event(stored_event)
        try:
            state = orjson.loads(stored_event.state)
        except orjson.JSONDecodeError:  # e.g. Infinity or NaN, which json accepts
            return super().to_domain_event(stored_event)
        originator_id = stored_event.originator_id
        plan = self._plans.get(stored_event.topic)
        if plan is None or plan.id_type is not type(originator_id):
            plan = self._plan(stored_event.topic, type(originator_id))
        typed = plan.typed
        if typed is None or not plan.declared.issuperset(state):
            typed = tuple(state)  # look at every field
        transcodings = self._transcodings
        try:
            for name in typed:
                value = state.get(name)
                if type(value) is dict:
                    # Most are one object holding text: a date, a datetime, a UUID.
                    data = value.get("_data_")
                    if len(value) == 2 and type(data) is str and value["_type_"] in transcodings:
                        state[name] = transcodings[value["_type_"]].decode(data)
                    else:
                        state[name] = self._convert(value)
                elif type(value) is list:
                    state[name] = self._convert(value)
        except _Unregistered:  # eventsourcing's own error, which names the type
            return super().to_domain_event(stored_event)
        # From here on, what eventsourcing's Mapper.to_domain_event does.
        state["originator_id"] = plan.id_convertor(originator_id)
        state["originator_version"] = stored_event.originator_version
        from_version = state.pop("class_version", 1)
        while from_version < plan.class_version:
            getattr(plan.cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        domain_event: DomainEventProtocol[UUID] = object.__new__(plan.cls)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event

    def _convert(self, value: Any) -> Any:
        """What eventsourcing's object hook makes of a parsed value: inner objects
        first, then `{"_type_": name, "_data_": data}` becomes the transcoded object."""
        if type(value) is list:
            for index, item in enumerate(value):
                if type(item) is dict or type(item) is list:
                    value[index] = self._convert(item)
            return value
        for key, item in value.items():
            if type(item) is dict or type(item) is list:
                value[key] = self._convert(item)
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            try:
                transcoding = self._transcodings[value["_type_"]]
            except (KeyError, TypeError):
                raise _Unregistered from None
            return transcoding.decode(value["_data_"])
        return value
