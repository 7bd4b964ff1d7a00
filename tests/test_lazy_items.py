"""Files of ARM resources are read lazily: an item of a type flaudit ignores is counted from its id and type and
never built, and the inventory, the ignored-type counts and every input error are the same as reading the whole
document (tests pin both against the plain parse)."""

from __future__ import annotations

import json

import pytest

from flaudit.errors import InputError
from flaudit.readers import RawItems
from flaudit.samples import generate
from flaudit.sources.files import parse_document, read_file

UNRELATED = [{"id": f"/subscriptions/s/resourceGroups/r/providers/Microsoft.Web/sites/app{i}",
              "type": "Microsoft.Web/sites", "properties": {"state": "Running", "n": i}} for i in range(5)]


def _shapes() -> dict[str, object]:
    resources = generate.Builder("hardened", 2).build()
    mixed = resources[:10] + UNRELATED + resources[10:]
    snap = generate.snapshot("hardened", 2)
    snap["resources"] = mixed
    return {"array": mixed, "value": {"value": mixed, "nextLink": None}, "data": {"data": mixed, "count": 1},
            "snapshot": snap, "single": resources[0]}


@pytest.mark.parametrize("shape", ["array", "value", "data", "snapshot", "single"])
def test_lazy_read_gives_the_inventory_a_whole_read_gives(tmp_path, shape):
    doc = _shapes()[shape]
    path = tmp_path / "in.json"
    path.write_text(json.dumps(doc, indent=2))
    lazy, whole = read_file(path), parse_document(json.loads(path.read_text()), str(path))
    assert lazy.resources == whole.resources
    assert lazy.ignored_types == whole.ignored_types
    assert lazy.sha256() == whole.sha256()
    assert [s.to_dict() for s in lazy.sources] == [s.to_dict() for s in whole.sources]


def test_items_of_ignored_types_are_never_built(tmp_path, monkeypatch):
    built = []
    original = RawItems.decode

    def spy(self, i, origin):
        built.append(i)
        return original(self, i, origin)

    monkeypatch.setattr(RawItems, "decode", spy)
    items = generate.Builder("hardened", 1).build()[:3] + UNRELATED
    path = tmp_path / "in.json"
    path.write_text(json.dumps(items))
    inv = read_file(path)
    assert built == [0, 1, 2]
    assert inv.ignored_types == {"microsoft.web/sites": 5}


@pytest.mark.parametrize("item, message", [
    (42, "item 1 is a int, not an ARM resource object"),
    ({"id": "/subscriptions/s/x", "type": 7}, "item 1 \\(/subscriptions/s/x\\) has a 'type' that is a int"),
    ({"id": "no-slash", "type": "Microsoft.Web/sites"}, "item 1 has id 'no-slash', which is not an ARM resource id"),
    ({"type": "Microsoft.Web/sites"}, "item 1 is not an ARM resource: it has no 'id'"),
])
def test_bad_items_in_a_lazy_array_give_the_same_one_line_error(tmp_path, item, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"value": [UNRELATED[0], item]}))
    with pytest.raises(InputError, match=message):
        read_file(path)
    with pytest.raises(InputError, match=message):
        parse_document(json.loads(path.read_text()), str(path))


def test_an_item_msgspec_refuses_is_read_by_the_standard_library(tmp_path):
    """A lone surrogate escape inside one resource: the item is still read (as json.loads reads it)."""
    res = generate.Builder("hardened", 1).build()[0]
    text = json.dumps([res]).replace('"properties": {', '"properties": {"odd": "\\ud800", ', 1)
    path = tmp_path / "odd.json"
    path.write_text(text)
    assert read_file(path).get(res["id"])["properties"]["odd"] == "\ud800"


def test_invalid_utf8_inside_an_ignored_item_still_rejects_the_file(tmp_path):
    """msgspec leaves ignored items raw without checking their text; the file is still refused as a whole."""
    path = tmp_path / "bad.json"
    path.write_bytes(b'[{"id": "/subscriptions/s/providers/Microsoft.Web/sites/a", "type": "Microsoft.Web/sites", '
                     b'"properties": {"note": "\xff\xfe"}}]')
    with pytest.raises(InputError, match="not a UTF-8 text file"):
        read_file(path)


def test_non_ascii_utf8_files_are_read_lazily_too(tmp_path):
    items = [dict(UNRELATED[0], properties={"note": "Zürich 東京"}), *generate.Builder("hardened", 1).build()[:2]]
    path = tmp_path / "utf8.json"
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    inv = read_file(path)
    assert len(inv.resources) == 2 and inv.ignored_types == {"microsoft.web/sites": 1}


def test_an_ignored_type_whose_body_attaches_a_user_assigned_identity_is_built_and_kept(tmp_path):
    """The lazy reader skips ignored types by id and type alone, except an item whose text may carry an identity
    block (any casing): such a resource can act as a silo identity (FL-ID-010), so it is built and kept."""
    uai = "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-silo0"
    logic = {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Logic/workflows/wf", "name": "wf",
             "type": "Microsoft.Logic/workflows", "identity": {"type": "UserAssigned",
                                                               "UserAssignedIdentities": {uai: {}}}}
    path = tmp_path / "in.json"
    path.write_text(json.dumps({"value": [*UNRELATED, logic]}))
    inv = read_file(path)
    assert inv.get(logic["id"]) is not None
    assert logic["id"].lower() not in {k.lower() for k in inv.ignored}


def test_an_identity_block_spelt_with_json_escapes_is_still_found(tmp_path):
    """A \\u escape may spell any letter of "userAssignedIdentities": the raw-text test cannot rule such an item
    out, so it is built, and the identity it attaches keeps it (the same as a whole parse)."""
    uai = "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-silo0"
    logic = {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Logic/workflows/wf", "name": "wf",
             "type": "Microsoft.Logic/workflows", "identity": {"type": "UserAssigned", "PLACEHOLDER": {uai: {}}}}
    text = json.dumps([*UNRELATED, logic]).replace('"PLACEHOLDER"', '"userAssigned\\u0049dentities"') \
        .replace("userAssignedIdentities/uai", "user\\u0041ssignedIdentities/uai")
    assert "userassignedidentities" not in text.lower()
    path = tmp_path / "in.json"
    path.write_text(text)
    inv = read_file(path)
    assert inv.get(logic["id"]) is not None
    assert inv.resources == parse_document(json.loads(text), str(path)).resources


@pytest.mark.parametrize("spelt", ['"TRUE"', '" false "', '"true\\t"', '"\\u0074rue"', '"False\\u00a0"',
                                   '"true\u00a0"', '"Enabled"'])
def test_string_flags_in_any_spelling_are_read_as_a_whole_parse_reads_them(tmp_path, spelt):
    """Every spelling that str.strip().lower() reads as true/false (case, spaces, escapes, non-ASCII whitespace) is
    read as a flag by the lazy reader as by a whole parse."""
    storage = next(r for r in generate.Builder("hardened", 1).build()
                   if r["type"] == "Microsoft.Storage/storageAccounts")
    storage["properties"]["allowSharedKeyAccess"] = "PLACEHOLDER"
    text = json.dumps([storage], indent=2, ensure_ascii=False).replace('"PLACEHOLDER"', spelt)
    path = tmp_path / "in.json"
    path.write_text(text, encoding="utf-8")
    lazy, whole = read_file(path), parse_document(json.loads(text), str(path))
    assert lazy.resources == whole.resources
    assert lazy.notes == whole.notes
    value = lazy.get(storage["id"])["properties"]["allowSharedKeyAccess"]
    assert value == "Enabled" if spelt == '"Enabled"' else isinstance(value, bool)


def test_the_top_level_members_of_every_json_type_are_read_as_the_whole_parse_reads_them(tmp_path):
    """load_json_items reads a top-level object in one pass, its arrays as raw items: members of every JSON type
    (big integers, floats, nested arrays, objects, null) must come back as json.loads builds them."""
    from flaudit.readers import load_json_items

    text = ('{"kind": "x", "n": 123456789012345678901234567890, "f": 1.0, "g": -2.5e-3, "neg": -5, "b": true, '
            '"z": null, "collected": [{"a": 1}, 2, "s", [1, [2]], null], "data": {"rows": []}, '
            '"resources": [{"id": "/x"}, 3], "value": [], "o": {"k": [1, 2]}, "s": "\\u00e9"}')
    path = tmp_path / "in.json"
    path.write_text(text)
    lazy = load_json_items(path)
    assert isinstance(lazy["resources"], RawItems) and isinstance(lazy["value"], RawItems)
    built = {k: [v.decode(i, "in.json") for i in range(len(v))] if isinstance(v, RawItems) else v
             for k, v in lazy.items()}
    assert built == json.loads(text)
    assert [type(v) for v in built.values()] == [type(v) for v in json.loads(text).values()]
