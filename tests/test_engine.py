"""The rule engine: metadata validation, fail-closed on errors, user rule packs."""

from __future__ import annotations

import textwrap

import pytest

from flaudit.audit import run_audit
from flaudit.engine import Remediation, load_rules, rule, run_rules
from flaudit.errors import InputError
from flaudit.findings import AREAS, Fail
from flaudit.result import verdict_for
from tests import support

REM = Remediation(cli="az x", bicep="// x")


def test_a_rule_that_raises_gives_unknown_and_the_run_goes_on():
    @rule(id="T-1", title="boom", area="topology", severity="high", blocks=("production",), rationale="r",
          remediation=REM)
    def boom(d):
        raise KeyError("properties")

    @rule(id="T-2", title="ok", area="topology", severity="low", blocks=(), rationale="r", remediation=REM)
    def ok(d):
        yield Fail("/x", "fine")

    out = run_rules(object(), [boom, ok])
    assert [(f.rule_id, f.status) for f in out] == [("T-1", "unknown"), ("T-2", "fail")]
    assert "KeyError" in out[0].message
    assert verdict_for(out, "production")["status"] == "unknown"


def test_unknown_never_counts_as_ready():
    f = Fail("/x", "m")
    f.status, f.blocks = "unknown", ("production",)
    assert verdict_for([f], "production") == {"status": "unknown", "blocking": [f.id]}
    assert verdict_for([f], "prototype")["status"] == "ready"


@pytest.mark.parametrize("field, value", [("area", "networking"), ("severity", "urgent"), ("blocks", ("staging",))])
def test_rule_metadata_is_validated_at_declaration(field, value):
    kwargs = dict(id="T-3", title="t", area="topology", severity="low", blocks=(), rationale="r", remediation=REM)
    kwargs[field] = value
    with pytest.raises(ValueError):
        rule(**kwargs)


def test_builtin_rules_have_complete_metadata_and_unique_ids():
    rules = load_rules()
    assert len({r.id for r in rules}) == len(rules)
    for r in rules:
        assert r.area in AREAS and r.rationale and r.remediation.cli and r.remediation.bicep, r.id
        assert r.references and all(u.startswith("https://") for u in r.references), r.id


def test_rules_dir_loads_a_user_pack_with_the_same_api(tmp_path):
    (tmp_path / "mine.py").write_text(textwrap.dedent("""
        from flaudit.engine import Remediation, rule
        from flaudit.findings import Fail

        @rule(id="ACME-001", title="Silo storage is tagged with an owner", area="storage-hardening",
              severity="low", blocks=("production",), rationale="Owners answer incidents.",
              remediation=Remediation(cli="az tag update", bicep="tags: { owner: 'x' }"),
              references=("https://example.org/policy",))
        def owner_tag(d):
            for s in d.silos:
                if s.storage and "owner" not in (s.storage.raw.get("tags") or {}):
                    yield Fail(s.storage.id, f"{s.name}: no owner tag", silo=s.name)
    """))
    result = run_audit(support.inventory(support.sample_resources("hardened")), support.config(),
                       rules_dirs=[tmp_path])
    assert support.statuses(result, "ACME-001") == {"fail"}
    assert any(r["id"] == "ACME-001" for r in result["rules"])


def test_rules_dir_errors_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="not a directory"):
        load_rules([tmp_path / "missing"])
    (tmp_path / "broken.py").write_text("import nope_not_a_module\n")
    with pytest.raises(InputError, match="broken.py: rule module failed to load"):
        load_rules([tmp_path])


def test_duplicate_rule_ids_are_rejected(tmp_path):
    (tmp_path / "dup.py").write_text(textwrap.dedent("""
        from flaudit.engine import Remediation, rule
        @rule(id="FL-TOP-001", title="t", area="topology", severity="low", blocks=(), rationale="r",
              remediation=Remediation(cli="c", bicep="b"))
        def dup(d):
            return []
    """))
    with pytest.raises(InputError, match="declared twice"):
        load_rules([tmp_path])



def test_evaluation_defers_full_collections_and_leaves_the_collector_as_it_found_it(tmp_path):
    """Everything an evaluation builds lives until it ends, so full collections (which rescan all of it and
    free nothing) wait; young collections keep their thresholds, and the caller's settings come back."""
    import gc

    from flaudit.audit import evaluate

    (tmp_path / "watch.py").write_text(textwrap.dedent("""
        import gc

        from flaudit.engine import Remediation, rule
        from flaudit.findings import Pass

        SEEN = []

        @rule(id="ACME-GC", title="records the collector's thresholds", area="topology", severity="low",
              blocks=(), rationale="r", remediation=Remediation(cli="az x", bicep="// x"))
        def watch(d):
            SEEN.append(gc.get_threshold())
            yield Pass("/x", "recorded")
    """))
    before, frozen = gc.get_threshold(), gc.get_freeze_count()
    ev = evaluate(support.inventory(support.sample_resources()), support.config(), rules_dirs=[tmp_path])
    seen = next(r.func.__globals__["SEEN"] for r in ev.rules if r.id == "ACME-GC")
    assert len(seen) == 1
    assert seen[0][:2] == before[:2] and seen[0][2] > 1_000_000
    assert (gc.get_threshold(), gc.get_freeze_count()) == (before, frozen)
