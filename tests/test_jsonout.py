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
            {}, {1: "non-string key", "long": list(range(9))}, [1, 2, 3, 4, 5], "text"]


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
