"""Decoding stored events for the views, faster than eventsourcing's generic mapper.

eventsourcing's JSONTranscoder parses each event's state with the standard library's
json module and calls a Python hook on every JSON object in it, to turn
`{"_type_": ..., "_data_": ...}` back into a date, a datetime or a UUID. Reading the log
is most of what a rebuild does, and about two thirds of that is this decoding.

`FastMapper` gives the same events in about 30% less time: orjson parses the state
(several times faster than the standard library), and only the fields that can hold
such objects are looked at. Which those are follows from each event class's
annotations, once per class: a field declared as text, numbers, booleans, or lists and
dicts of those, is left as parsed; any other field (a date, a UUID, `Any`, a bare
`list`, one the class does not declare) goes through the same conversion as
eventsourcing's hook, and so does every field of a state that will be upcast.

So it relies on each event's fields holding what their annotations say, which Python
does not enforce: tests/test_event_decoding.py decodes every kind of event Keel records
both ways and compares them. Anything it might not do the same way goes to
eventsourcing's own code, which then decodes or raises as it always did: a cipher or a
compressor, a run of 19 digits (orjson reads an integer outside 64 bits as a float),
and any error on the way (a state orjson refuses, a type nobody registered, a
transcoding that fails).
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
    Cipher,
    Compressor,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoder,
    Transcoding,
    find_id_convertor,
)
from eventsourcing.utils import resolve_topic

from services.log_pages import Logged

# What JSON gives back as it is: a field declared as one of these (or as a list, a dict,
# an optional or a union of them) never holds a transcoded object.
_PLAIN = frozenset({str, int, float, bool, type(None)})
_CONTAINERS = frozenset({list, dict, typing.Union, types.UnionType})


def _is_plain(hint: Any) -> bool:
    if hint in _PLAIN:
        return True
    args = typing.get_args(hint)  # empty for a bare typing.List: anything may be in it
    return typing.get_origin(hint) in _CONTAINERS and bool(args) and all(map(_is_plain, args))


# The mapper sets these two itself, after decoding, as eventsourcing's does.
_SET_BY_THE_MAPPER = frozenset({"originator_id", "originator_version"})


def _typed_fields(hints: dict[str, Any]) -> tuple[str, ...]:
    """The fields of an event class that may hold a transcoded object."""
    return tuple(
        name
        for name, hint in hints.items()
        if name not in _SET_BY_THE_MAPPER and not _is_plain(hint)
    )


# orjson reads an integer outside [-2**63, 2**64 - 1] as a float, json as an int. Such an
# integer has 19 digits or more (-2**63 - 1 has 19), so a state with 19 digits in a row
# (or just digits in a text) goes to eventsourcing. They are found by mapping every
# digit to "0" and anything else to " ": a regular expression takes four times as long
# on the digits of timestamps and sealed texts.
_DIGITS = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_NUMBER = b"0" * 19


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

    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        super().__init__(transcoder, compressor, cipher)
        self._transcodings = transcoder.names if isinstance(transcoder, JSONTranscoder) else None
        self._plans: dict[str, _Plan] = {}

    def to_domain_event(self, stored_event: StoredEvent | Logged) -> DomainEventProtocol[UUID]:
        """Decode a stored event, or a notification as the runner reads it
        (services/log_pages.py)."""
        if self._transcodings is None or self.cipher or self.compressor:
            return self._eventsourcings(stored_event)
        if _LONG_NUMBER in stored_event.state.translate(_DIGITS):
            return self._eventsourcings(stored_event)
        try:
            return self._decode(stored_event, self._transcodings)
        except Exception:
            # eventsourcing's code decodes it, or raises its own error (with the
            # event's topic, id and version) where it always did.
            return self._eventsourcings(stored_event)

    def _eventsourcings(self, stored_event: StoredEvent | Logged) -> DomainEventProtocol[UUID]:
        # eventsourcing's Mapper only reads these four attributes, so a LoggedEvent
        # would do as it is; a StoredEvent is what its signature promises, though.
        if not isinstance(stored_event, StoredEvent):
            stored_event = StoredEvent(
                originator_id=stored_event.originator_id,
                originator_version=stored_event.originator_version,
                topic=stored_event.topic,
                state=stored_event.state,
            )
        return super().to_domain_event(stored_event)

    def _decode(
        self, stored_event: StoredEvent | Logged, transcodings: dict[str, Transcoding]
    ) -> DomainEventProtocol[UUID]:
        state = orjson.loads(stored_event.state)
        originator_id = stored_event.originator_id
        plan = self._plans.get(stored_event.topic)
        if plan is None or plan.id_type is not type(originator_id):
            plan = self._plan(stored_event.topic, type(originator_id))
        from_version = state.pop("class_version", 1)
        typed = plan.typed
        if (
            typed is None
            or from_version < plan.class_version
            or not plan.declared.issuperset(state)
        ):
            # An upcaster sees the state as eventsourcing's hook leaves it, whatever
            # the fields' types are now; so does a field the class does not declare.
            typed = tuple(state)
        for name in typed:
            value = state.get(name)
            if type(value) is dict:
                # Most are one object holding text: a date, a datetime, a UUID.
                kind, data = value.get("_type_"), value.get("_data_")
                if len(value) == 2 and type(kind) is str and type(data) is str:
                    state[name] = transcodings[kind].decode(data)
                else:
                    state[name] = self._convert(value, transcodings)
            elif type(value) is list:
                state[name] = self._convert(value, transcodings)
        # From here on, what eventsourcing's Mapper.to_domain_event does.
        state["originator_id"] = plan.id_convertor(originator_id)
        state["originator_version"] = stored_event.originator_version
        while from_version < plan.class_version:
            getattr(plan.cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        domain_event: DomainEventProtocol[UUID] = object.__new__(plan.cls)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event

    def _plan(self, topic: str, id_type: type) -> _Plan:
        cls = resolve_topic(topic)
        try:
            hints = typing.get_type_hints(cls)
        except Exception:  # annotations that do not resolve: every field is looked at
            typed, declared = None, frozenset[str]()
        else:
            typed, declared = _typed_fields(hints), frozenset(hints)
        plan = self._plans[topic] = _Plan(
            cls,
            typed,
            declared,
            id_type,
            find_id_convertor(cls, id_type),
            getattr(cls, "class_version", 1),
        )
        return plan

    def _convert(self, value: Any, transcodings: dict[str, Transcoding]) -> Any:
        """What eventsourcing's object hook makes of a parsed value: inner objects
        first, then `{"_type_": name, "_data_": data}` becomes the transcoded object."""
        if type(value) is list:
            for index, item in enumerate(value):
                if type(item) is dict or type(item) is list:
                    value[index] = self._convert(item, transcodings)
            return value
        for key, item in value.items():
            if type(item) is dict or type(item) is list:
                value[key] = self._convert(item, transcodings)
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return transcodings[value["_type_"]].decode(value["_data_"])
        return value
