"""The meaning of row operations on plain dicts, and fold_all."""

from __future__ import annotations

from projections.rows import Patch, Put, RowOp, Table, Tables, apply_in_memory, fold_all

PEOPLE = Table(name="people", columns=("id", "name", "age"), key=("id",))
PAIRS = Table(name="pairs", columns=("a", "b", "n"), key=("a", "b"))


def test_key_of_follows_the_key_columns_in_order() -> None:
    assert PAIRS.key_of({"n": 3, "b": "y", "a": "x"}) == ("x", "y")


def test_put_inserts_a_row_creating_the_table() -> None:
    tables = apply_in_memory({}, [Put(PEOPLE, {"id": 1, "name": "Ana", "age": 30})])
    assert tables == {"people": {(1,): {"id": 1, "name": "Ana", "age": 30}}}


def test_put_stores_a_copy_of_the_row() -> None:
    row = {"id": 1, "name": "Ana", "age": 30}
    tables = apply_in_memory({}, [Put(PEOPLE, row)])
    row["name"] = "changed"
    assert tables["people"][(1,)]["name"] == "Ana"


def test_put_replaces_the_whole_row_with_the_same_key() -> None:
    tables = apply_in_memory(
        {},
        [
            Put(PEOPLE, {"id": 1, "name": "Ana", "age": 30}),
            Put(PEOPLE, {"id": 1, "name": "Ann"}),
            Put(PEOPLE, {"id": 2, "name": "Ben", "age": 40}),
        ],
    )
    assert tables == {
        "people": {
            (1,): {"id": 1, "name": "Ann"},  # "age" is gone: a Put is not a merge
            (2,): {"id": 2, "name": "Ben", "age": 40},
        }
    }


def test_patch_sets_only_the_given_columns_of_an_existing_row() -> None:
    tables = apply_in_memory(
        {},
        [
            Put(PEOPLE, {"id": 1, "name": "Ana", "age": 30}),
            Put(PEOPLE, {"id": 2, "name": "Ben", "age": 40}),
            Patch(PEOPLE, (1,), {"age": 31}),
        ],
    )
    assert tables["people"] == {
        (1,): {"id": 1, "name": "Ana", "age": 31},
        (2,): {"id": 2, "name": "Ben", "age": 40},
    }


def test_patch_of_a_missing_row_is_ignored() -> None:
    tables = apply_in_memory(
        {},
        [Put(PEOPLE, {"id": 1, "name": "Ana", "age": 30}), Patch(PEOPLE, (2,), {"age": 41})],
    )
    assert tables["people"] == {(1,): {"id": 1, "name": "Ana", "age": 30}}


def test_patch_of_a_missing_table_creates_it_empty() -> None:
    assert apply_in_memory({}, [Patch(PEOPLE, (1,), {"age": 1})]) == {"people": {}}


def test_operations_apply_in_order() -> None:
    # The first patch finds no row; the second patches the row the put inserted.
    tables = apply_in_memory(
        {},
        [
            Patch(PAIRS, ("x", "y"), {"n": 1}),
            Put(PAIRS, {"a": "x", "b": "y", "n": 0}),
            Patch(PAIRS, ("x", "y"), {"n": 2}),
        ],
    )
    assert tables == {"pairs": {("x", "y"): {"a": "x", "b": "y", "n": 2}}}


def test_apply_in_memory_updates_and_returns_the_given_tables() -> None:
    tables: Tables = {"people": {(1,): {"id": 1, "name": "Ana", "age": 30}}}
    returned = apply_in_memory(tables, [Put(PEOPLE, {"id": 2, "name": "Ben", "age": 40})])
    assert returned is tables
    assert set(tables["people"]) == {(1,), (2,)}


class _Counter:
    """A toy fold: a str event records its last position in `pairs`, and patches a
    `people` row that never exists (so `people` must stay empty)."""

    name = "counter"
    tables: tuple[Table, ...] = (PEOPLE, PAIRS)

    def fold(self, event: object, position: int) -> list[RowOp]:
        if not isinstance(event, str):
            return []
        return [
            Put(PAIRS, {"a": event, "b": "last", "n": position}),
            Patch(PEOPLE, (event,), {"age": position}),
        ]


def test_fold_all_starts_every_table_empty() -> None:
    assert fold_all(_Counter(), []) == {"people": {}, "pairs": {}}


def test_fold_all_applies_each_event_with_its_position() -> None:
    tables = fold_all(_Counter(), [("x", 3), (None, 4), ("y", 7), ("x", 9)])
    assert tables == {
        "people": {},
        "pairs": {
            ("x", "last"): {"a": "x", "b": "last", "n": 9},
            ("y", "last"): {"a": "y", "b": "last", "n": 7},
        },
    }
