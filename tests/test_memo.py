"""flaudit.memo: an answer is worked out once per owner and key (None included), kept on its owner only, and
an object-keyed answer is never handed to another object that reuses a freed object's id."""

from __future__ import annotations

from types import SimpleNamespace

from flaudit import memo


def test_a_keyed_answer_is_worked_out_once_per_key_and_none_is_an_answer():
    owner, calls = SimpleNamespace(), []

    def compute(key):
        calls.append(key)
        return None if key == "b" else key.upper()

    for _ in range(3):
        assert memo.keyed(owner, "_q", "a", lambda: compute("a")) == "A"
        assert memo.keyed(owner, "_q", "b", lambda: compute("b")) is None
    assert calls == ["a", "b"]
    assert memo.keyed(SimpleNamespace(), "_q", "a", lambda: "other owner") == "other owner"


def test_an_object_keyed_answer_belongs_to_that_object_alone():
    owner = SimpleNamespace()
    first = {"id": "x"}
    assert memo.per_object(owner, "_q", first, lambda: 1) == 1
    assert memo.per_object(owner, "_q", first, lambda: 2) == 1
    assert memo.per_object(owner, "_q", {"id": "x"}, lambda: 3) == 3  # equal but not the same payload
    # a key whose id matches but whose object differs (an id reused after a free) is worked out again
    owner._q[id(first)] = (object(), "stale")
    assert memo.per_object(owner, "_q", first, lambda: 4) == 4


def test_a_whole_answer_is_worked_out_once():
    owner, calls = SimpleNamespace(), []
    for _ in range(2):
        assert memo.once(owner, "_q", lambda: calls.append(1)) is None
    assert calls == [1]


def test_a_whole_answer_decorated_is_kept_per_owner():
    calls = []

    @memo.whole("_q")
    def index(owner):
        calls.append(owner)
        return {"n": len(calls)}

    a, b = SimpleNamespace(), SimpleNamespace()
    assert index(a) is index(a) and index(b) == {"n": 2} and calls == [a, b]


def test_grouped_keeps_each_keys_values_in_the_order_given():
    assert memo.grouped([("x", 1), ("y", 2), ("x", 3)]) == {"x": [1, 3], "y": [2]}
