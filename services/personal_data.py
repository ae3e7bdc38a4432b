"""Crypto-shredding: personal fields in events are encrypted with a key per person, so
erasing a person deletes one key and leaves the log untouched.

Which fields are personal, and whose they are, is listed in PERSONAL below. Each text
is sealed on its own with AES-GCM (the person's key id as associated data), so a list
keeps its length: counts in the views do not change when someone is erased. Once the
key is gone, every sealed text reads as "[erased]". Numbers, dates and ids are not
sealed: without the name and the texts they no longer point at anyone, and the team's
aggregated history stays as it was.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from domain.journal import Journal
from domain.recognition import Recognition
from domain.team import ERASED, Team

_SEALED = "sealed:v1:"


def _by_member(event: Any) -> UUID:
    return Journal.id_for(event.member_id)


def _by_journal(event: Any) -> UUID:
    journal_id: UUID = event.originator_id
    return journal_id


def _by_recipient(event: Any) -> UUID:
    return Journal.id_for(event.to_member_id)


# Event class -> (whose key, which fields). A person's key id is their journal's id.
PERSONAL: dict[type, tuple[Callable[[Any], UUID], tuple[str, ...]]] = {
    Team.MemberJoined: (_by_member, ("name",)),
    Team.MemberLeft: (_by_member, ("note",)),
    Journal.CheckedIn: (_by_journal, ("progress", "setbacks", "wins", "blockers", "private_note")),
    Journal.CheckInCorrected: (
        _by_journal,
        ("progress", "setbacks", "wins", "blockers", "private_note"),
    ),
    Journal.BlockerCleared: (_by_journal, ("note",)),
    Journal.SuccessDefined: (_by_journal, ("text",)),
    Recognition.RecognitionGiven: (_by_recipient, ("message",)),
}


class KeyVault:
    """One AES key per person, in a table beside the events. Deleting is final."""

    def __init__(self, datastore: Any, placeholder: str) -> None:
        self._datastore = datastore
        self._p = placeholder
        self._keys: dict[UUID, bytes] = {}
        with datastore.transaction(commit=True) as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS person_keys "
                "(key_id TEXT PRIMARY KEY, key TEXT NOT NULL)"
            )

    def key(self, key_id: UUID, *, create: bool) -> bytes | None:
        cached = self._keys.get(key_id)
        if cached is not None:
            return cached
        p = self._p
        with self._datastore.transaction(commit=create) as c:
            if create:
                # Two writers may race to create it: the first wins, both read the winner.
                c.execute(
                    f"INSERT INTO person_keys (key_id, key) VALUES ({p}, {p}) "
                    "ON CONFLICT (key_id) DO NOTHING",
                    (str(key_id), AESGCM.generate_key(bit_length=256).hex()),
                )
            c.execute(f"SELECT key FROM person_keys WHERE key_id = {p}", (str(key_id),))
            row = c.fetchone()
        if row is None:
            return None
        key = bytes.fromhex(row["key"])
        self._keys[key_id] = key
        return key

    def forget(self, key_id: UUID) -> None:
        """Delete the person's key. Every process drops its cached copy on restart."""
        with self._datastore.transaction(commit=True) as c:
            c.execute(f"DELETE FROM person_keys WHERE key_id = {self._p}", (str(key_id),))
        self.drop(key_id)

    def drop(self, key_id: UUID) -> None:
        """Drop this process's copy of a key another process deleted."""
        self._keys.pop(key_id, None)


def _seal(aead: AESGCM, key_id: UUID, text: str) -> str:
    nonce = os.urandom(12)
    sealed = aead.encrypt(nonce, text.encode(), key_id.bytes)
    return _SEALED + base64.b64encode(nonce + sealed).decode()


def _open(aead: AESGCM | None, key_id: UUID, token: str, *, strict: bool = False) -> str:
    """The text sealed in `token`; "[erased]" without the key, or (unless `strict`,
    which raises InvalidTag) when it was sealed with a key that is gone."""
    if not token.startswith(_SEALED):
        return token  # written before sealing, or not sealed
    if aead is None:
        return ERASED
    raw = base64.b64decode(token[len(_SEALED) :])
    try:
        return aead.decrypt(raw[:12], raw[12:], key_id.bytes).decode()
    except InvalidTag:
        if strict:
            raise
        return ERASED


def _map(value: Any, text: Callable[[str], str]) -> Any:
    """Apply `text` to every text in a field: a string, a list of strings, or a list of
    {"id", "text"} items."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, list):
        return [
            {**item, "text": text(item["text"])} if isinstance(item, dict) else text(item)
            for item in value
        ]
    return value


class PersonalDataMapper(Mapper[UUID]):
    def __init__(self, transcoder: Transcoder, vault: KeyVault | None = None) -> None:
        super().__init__(transcoder)
        self.vault = vault

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        spec = PERSONAL.get(type(domain_event))
        if spec is None or self.vault is None:
            return super().to_stored_event(domain_event)
        whose, fields = spec
        key_id = whose(domain_event)
        key = self.vault.key(key_id, create=True)
        assert key is not None
        aead = AESGCM(key)
        # The event in memory keeps its plain text; only the stored copy is sealed.
        sealed = object.__new__(type(domain_event))
        state = dict(vars(domain_event))
        for name in fields:
            state[name] = _map(state[name], lambda t: _seal(aead, key_id, t))
        object.__setattr__(sealed, "__dict__", state)
        return super().to_stored_event(sealed)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        event = super().to_domain_event(stored_event)
        spec = PERSONAL.get(type(event))
        if spec is None or self.vault is None:
            return event
        whose, fields = spec
        key_id = whose(event)
        state = vars(event)
        key = self.vault.key(key_id, create=False)
        try:
            opened = _opened(state, fields, key_id, key, strict=True)
        except InvalidTag:
            # Sealed with a key this process has not read yet: another process (the
            # writer) deleted the one held here, at an erasure, and made a new one
            # since. Read the key again; what was sealed with the old one is erased.
            self.vault.drop(key_id)
            key = self.vault.key(key_id, create=False)
            opened = _opened(state, fields, key_id, key, strict=False)
        state.update(opened)
        return event


def _opened(
    state: dict[str, Any], fields: tuple[str, ...], key_id: UUID, key: bytes | None, *, strict: bool
) -> dict[str, Any]:
    aead = AESGCM(key) if key is not None else None
    return {
        name: _map(state[name], lambda t: _open(aead, key_id, t, strict=strict)) for name in fields
    }
