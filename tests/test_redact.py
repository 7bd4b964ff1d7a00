"""Redaction is cheap (a resource with nothing secret-shaped is kept as it is, not walked and copied) and still
complete: the fast search must find everything the full walk finds, whatever the case, escapes or nesting."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys

from flaudit.redact import _SECRET_KEYS, REDACTED, _redact_walk, contains_secret, may_hold_secret, redact

SECRET_VALUES = [
    "DefaultEndpointsProtocol=https;AccountName=st;AccountKey=c2VjcmV0MTIz;EndpointSuffix=core.windows.net",
    "https://st.blob.core.windows.net/c?sv=2022-11-02&ss=b&sig=AbCdEfGhIjKlMnOpQrStUv%2B%3D",
    "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=Zm9vYmFy",
    "SharedAccessSignature=sr=x&sig=abc",
    "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
    "accountkey=x",                       # case differs from the pattern
    "?SIG=ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "?\u017fig=ABCDEFGHIJKLMNOPQRSTUVWXYZ",  # long s: IGNORECASE matches it to "s"
    "Account\u212aey=secret",             # Kelvin sign: IGNORECASE matches it to "k"
    'quote "inside" AccountKey=\\back\\slash',
    "\x01control AccountKey=\x02",
]
HARMLESS = ["", "Enabled", "TLS1_2", "SharedAccessKeyName=send", "https://st.blob.core.windows.net/", "sig=short",
            "é Zürich 東京", "line\nbreak", 'a "quoted" word', "back\\slash", "=", "AccountKey="]
KEYS = ["name", "properties", "tags", "keySource", "keyName", "publicKey", "credentialsType", "value", "keyVaultUri"]


def _case_variants(word: str, rng: random.Random) -> str:
    out = "".join(c.upper() if rng.random() < 0.5 else c for c in word)
    return out.replace("k", "\u212a", 1) if "k" in out and rng.random() < 0.1 else out


def _random_value(rng: random.Random, depth: int) -> object:
    roll = rng.random()
    if depth > 3 or roll < 0.35:
        return rng.choice(SECRET_VALUES) if rng.random() < 0.08 else rng.choice(HARMLESS + [1, 2.5, True, None])
    if roll < 0.7:
        return _random_dict(rng, depth + 1)
    return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def _random_dict(rng: random.Random, depth: int) -> dict:
    out = {}
    for _ in range(rng.randint(0, 4)):
        if rng.random() < 0.1:
            key = _case_variants(rng.choice(sorted(_SECRET_KEYS)), rng)
        else:
            key = rng.choice(KEYS)
        out[key] = _random_value(rng, depth)
    return out


def test_fast_redaction_equals_the_full_walk_on_generated_resources():
    rng = random.Random(14)
    changed = 0
    for _ in range(4000):
        obj = _random_dict(rng, 0)
        expected = _redact_walk(obj)
        assert redact(obj) == expected, obj
        changed += expected != obj
    assert changed > 300  # the generator does produce secrets, so both paths were exercised


def test_each_secret_shape_is_found_under_any_key_and_depth():
    for value in SECRET_VALUES:
        for obj in ({"tags": {"note": value}}, {"properties": {"list": [1, {"x": [value]}]}}, [value], value):
            assert may_hold_secret(obj), obj
            assert REDACTED in json.dumps(redact(obj)), obj
    for key in sorted(_SECRET_KEYS):
        for spelled in (key, key.upper(), key.title(), key.replace("k", "\u212a")):
            # (under "settings": a connection's "credentials" block is redacted whole, see flaudit/redact.py)
            obj = {"properties": {"settings": {spelled: "c2VjcmV0"}}}
            assert redact(obj)["properties"]["settings"][spelled] == REDACTED, spelled


def test_non_string_keys_and_unserialisable_values_fall_back_to_the_walk():
    obj = {1: "AccountKey=abc", "x": {"password": "p"}, "y": {2, 3}}
    assert redact(obj) == {1: REDACTED, "x": {"password": REDACTED}, "y": {2, 3}}


def test_a_resource_with_nothing_secret_is_kept_as_it_is_not_copied():
    res = {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/st",
           "properties": {"keySource": "Microsoft.Storage", "publicKey": "", "minimumTlsVersion": "TLS1_2"}}
    assert not may_hold_secret(res)
    assert redact(res) is res
    assert not contains_secret(res)


def test_characters_that_lower_to_secret_key_letters_match_case_insensitively():
    """The search lower-cases ASCII text and compares non-ASCII text with IGNORECASE; the key check uses
    str.lower(). This pins that every character whose lower() is a letter of a secret key matches it."""
    letters = set("".join(_SECRET_KEYS))
    for code in range(0x110000):
        ch = chr(code)
        low = ch.lower()
        if len(low) == 1 and low in letters:
            assert re.fullmatch(re.escape(low), ch, re.IGNORECASE), hex(code)


def test_secrets_in_an_input_file_reach_no_output(tmp_path):
    """End to end through the fast reader: secret values in properties that rules quote as evidence (a SAS URL,
    a connection string in lower case, one spelled with JSON escapes) never appear in the JSON, SARIF, HTML or
    terminal output (each of them does when redaction is switched off)."""
    from flaudit.samples import generate

    resources = generate.Builder("hardened", 2).build()
    # Values the storage-hardening rules quote as evidence, so an unredacted secret would be printed.
    _, a, b, c = (r for r in resources if r["type"] == "Microsoft.Storage/storageAccounts")
    a["properties"]["minimumTlsVersion"] = "https://x.blob.core.windows.net/c?sv=1&sig=U0VDUkVUMlNFQ1JFVDJTRUNSRVQy"
    b["properties"]["minimumTlsVersion"] = "DefaultEndpointsProtocol=https;accountkey=U0VDUkVUMw==;x=y"
    c["properties"]["minimumTlsVersion"] = "PLACEHOLDER"
    text = json.dumps(resources, indent=2)
    # a secret spelled with JSON escapes: \u0041ccount\u004bey= decodes to AccountKey=
    text = text.replace('"PLACEHOLDER"', '"\\u0041ccount\\u004bey=U0VDUkVUNA=="')
    src = tmp_path / "in.json"
    src.write_text(text)
    cfg = tmp_path / "fl.yaml"
    cfg.write_text(json.dumps(generate.fl_config(2)))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "flaudit", "scan", "--input", str(src), "--config", str(cfg),
                           "--format", "json,sarif,html", "--output", str(out)], capture_output=True, text=True)
    assert proc.returncode in (0, 1), proc.stderr
    term = subprocess.run([sys.executable, "-m", "flaudit", "scan", "--input", str(src), "--config", str(cfg)],
                          capture_output=True, text=True)
    outputs = [p.read_text() for p in out.iterdir()] + [term.stdout]
    assert len(outputs) == 4
    for secret in ("U0VDUkVUMlNFQ1JFVDJTRUNSRVQy", "U0VDUkVUMw==", "U0VDUkVUNA=="):
        assert not any(secret in o for o in outputs), secret


def test_the_backwards_key_search_matches_exactly_the_secret_keys():
    """The key search is a trie-shaped regex over the reversed keys: every secret key matches as a whole JSON key,
    and no prefix, extension or neighbour of one does."""
    from flaudit.redact import _KEY_BACKWARDS

    def found(key: str) -> bool:
        return _KEY_BACKWARDS.search(f'{{"{key}":1}}'[::-1]) is not None

    for key in sorted(_SECRET_KEYS):
        assert found(key), key
        for near in (key[:-1], key[1:], key + "s", "x" + key, key + "_"):
            assert found(near) == (near in _SECRET_KEYS), near
