"""Fast writers and readers give the standard library's bytes and values: results, SARIF and the inventory digest
are byte-stable across the switch to orjson, and inputs msgspec refuses are still read (or refused) as before."""

from __future__ import annotations

import json

import pytest
from flaudit.reports import json_report, sarif

from flaudit.errors import InputError
from flaudit.jsonout import dumps_canonical, dumps_indented, iter_compact_bytes, iter_indented_bytes
from flaudit.readers import parse_json, parse_yaml
from tests.support import audit, sample_resources

TRICKY = {"text": 'quote " backslash \\ newline \n tab \t nul \x00 del \x7f sep \u2028 é 東京 \U0001f600',
          "numbers": [0, -1, 2**63 - 1, 1.5, 0.1, 1e16, 1e22, -0.0, 100.0], "empty": [{}, [], ""],
          "nested": {"a": {"b": [True, False, None]}}}


@pytest.mark.parametrize("value", [TRICKY, {1: "non-string key"}, {"big": 2**70}, {"tuple": (1, 2)}, "lone \ud800"])
def test_indented_json_is_byte_for_byte_the_standard_librarys(value):
    assert dumps_indented(value) == json.dumps(value, indent=2, ensure_ascii=False)


@pytest.mark.parametrize("value", [TRICKY, {"b": 1, "a": {"\U00010000": 1, "\uffff": 2, "B": 3}}, {"big": 2**70},
                                   {"s": {1, 2}}])
def test_canonical_json_is_byte_for_byte_the_standard_librarys(value):
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    assert dumps_canonical(value) == expected.encode("utf-8")


def test_result_and_sarif_files_are_what_json_dumps_wrote():
    result = audit(sample_resources("eyes-off"))
    assert json_report.render(result) == json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    assert sarif.render(result) == json.dumps(sarif.build(result), indent=2, ensure_ascii=False) + "\n"


STREAMED = [TRICKY, {"findings": [TRICKY, {"x": [1, [2, {}]]}, [], "a\nb", None] * 3, "short": [1, 2], "e": [],
                     "o": {}, "lone": "\ud800", "after": {"k": [{"m": "é"}]}},
            {}, {1: "non-string key", "long": list(range(9))}, [1, 2, 3, 4, 5], "text",
            {"\ud800 key": list(range(9)), "k": {"\ud800": [1]}, "big": [2**70] * 5}]


@pytest.mark.parametrize("value", STREAMED)
def test_streamed_json_pieces_join_to_the_standard_librarys_bytes(value):
    """What scan streams to a file, piece by piece with long arrays cut every 4 items here, is the bytes json.dumps
    writes (indented, and compact for --compact), lone surrogates and non-string keys included."""
    indented = json.dumps(value, indent=2, ensure_ascii=False).encode("utf-8", "backslashreplace") + b"\n"
    compact = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "backslashreplace")
    assert b"".join(iter_indented_bytes(value, b"\n", chunk=4)) == indented
    assert b"".join(iter_compact_bytes(value, b"\n", chunk=4)) == compact + b"\n"


def test_a_result_streamed_in_pieces_is_the_file_render_bytes_writes():
    result = audit(sample_resources("eyes-off"))
    assert len(result["findings"]) > 4
    for r in (result, {**result, "compact": True}):
        assert b"".join(json_report.render_chunks(r)) == json_report.render_bytes(r)
    pieces = list(iter_indented_bytes(result, b"\n", chunk=4))
    assert len(pieces) > len(result) + 2  # the findings were cut, not written whole
    assert b"".join(pieces) == json_report.render_bytes(result)


@pytest.mark.parametrize("text, value", [('"\\ud800"', "\ud800"), ('\ufeff{"a": 1}', {"a": 1}),
                                         ("[Infinity]", [float("inf")])])
def test_json_msgspec_refuses_is_read_as_the_standard_library_reads_it(text, value):
    assert parse_json(text.encode("utf-8"), "x.json") == value
    nan = parse_json(b"NaN", "x.json")
    assert nan != nan


def test_integers_beyond_64_bits_are_read_exactly():
    assert parse_json(b'{"n": 123456789012345678901234567890}', "x.json") == {"n": 123456789012345678901234567890}


def test_bad_json_gives_the_standard_librarys_message_with_line_and_column():
    with pytest.raises(InputError, match=r"^x.json: not JSON \(Expecting ',' delimiter at line 2 column 1\)$"):
        parse_json(b'[1\n2]', "x.json")
    with pytest.raises(InputError, match="x.json: not a UTF-8 text file"):
        parse_json(b'["\xff"]', "x.json")


def test_yaml_is_read_with_libyaml_and_errors_keep_their_line():
    assert parse_yaml("a: [1, b]\n", "c.yaml") == {"a": [1, "b"]}
    with pytest.raises(InputError, match="c.yaml: not valid YAML at line 2"):
        parse_yaml("a: 1\n b: [\n", "c.yaml")


def test_inventory_digest_is_sha256_of_the_standard_librarys_canonical_json():
    """Streamed a thousand resources at a time (here two chunks), the digest is still that of the whole document."""
    import hashlib

    from flaudit.inventory import Inventory, Unreadable
    from flaudit.samples import generate

    inv = Inventory()
    inv.extend(generate.Builder("hardened", 100).build())
    inv.unreadable.append(Unreadable("/subscriptions/s", "Microsoft.Authorization/roleAssignments", 403, "é denied"))
    assert len(inv.resources) > 1000
    canon = {"resources": [inv.resources[k] for k in sorted(inv.resources)],
             "unreadable": [u.to_dict() for u in inv.unreadable]}
    blob = json.dumps(canon, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    assert inv.sha256() == hashlib.sha256(blob.encode("utf-8")).hexdigest()


YAML_DOCS = [
    "", "---\n", "~\n", "a: 1\n", "- x\n- 2\n", "plain", "'quoted'",
    # every implicit type, and strings that only look like one
    "a: [yes, No, on, OFF, true, False, ~, null, '', 0x1F, 0o17, 017, -3, +4, 1_000, 3.5e3, .inf, -.Inf, .nan, "
    "2026-12-07, 2026-12-07T01:02:03Z, '1', \"true\", 1:20, 190:20:30, -, ., x: y]\n",
    "aml:\n  subscription_id: 6b6f2d51-8c3e-4f1a-9d7b-2f4e5a6c7d80\n  workspace_name: ws\nfederated_learning:\n"
    "  silos:\n  - name: silo0\n    computes: [c0, c1]\n    datastore: ds0\n    external: false\n"
    "  - {name: silo1, compute: c2, groups: []}\n",
    "k: |\n  block\n  text\nf: >\n  folded\n  text\n", "a: !!str 1\n", "a: ! 1\n", "? complex\n: value\n",
    "dup: 1\ndup: 2\n", "'<<': not a merge\n", "1: int key\n2.5: float key\nnull: null key\n", "a:\n  - [1, [2, {b: c}]]\n",
    # outside the fast reader's subset: the safe loader reads these (same values)
    "base: &b {x: 1}\nuse: *b\n", "base: &b {x: 1}\nmerged:\n  <<: *b\n  y: 2\n", "s: !!set {a, b}\n",
    "t: !!binary aGVsbG8=\n", "a: &x 1\nb: *x\n",
]


@pytest.mark.parametrize("text", YAML_DOCS)
def test_yaml_built_from_libyaml_events_is_what_the_safe_loader_builds(text):
    import yaml

    expected = yaml.load(text, Loader=yaml.CSafeLoader)  # noqa: S506
    assert parse_yaml(text, "c.yaml") == expected
    assert parse_yaml(text.encode(), "c.yaml") == expected
    assert repr(parse_yaml(text, "c.yaml")) == repr(expected)  # the same types too (1 is not True, date not str)


def test_a_generated_fleet_config_is_read_as_the_safe_loader_reads_it():
    import yaml

    from flaudit.readers import _fast_yaml
    from flaudit.samples import generate

    text = yaml.safe_dump(generate.fl_config(50), sort_keys=False)
    assert _fast_yaml(text) == yaml.load(text, Loader=yaml.CSafeLoader)  # noqa: S506 - (the fast path, not a fallback)


@pytest.mark.parametrize("text, line", [("a: 1\n b: [\n", 2), ("a: [1\n", 2), ("--- 1\n--- 2\n", 2),
                                        ("{[1]: x}\n", 1), ("a: *nowhere\n", 1), ("x: !!python/name:os.system\n", 1)])
def test_yaml_the_fast_reader_refuses_gets_the_safe_loaders_error(text, line):
    with pytest.raises(InputError, match=f"c.yaml: not valid YAML at line {line}"):
        parse_yaml(text, "c.yaml")
