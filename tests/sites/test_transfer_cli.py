"""#14 `archiveprint site transfer`: a dry run that writes nothing, then the transfer with the preview's check code,
its counts and the three documents it writes (handover list in three copies, pick list, shelf labels)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from archiveprint.db import Database
from archiveprint.lending.rules import LendingRules
from tests.conftest import setup_township
from tests.pdfcheck import compact, page_texts
from tests.sites.conftest import build_county, count_rows


def test_sqlite_refuses_a_transfer_between_sites(cli_env: Database, run_cli: Callable[..., Result]) -> None:
    if not cli_env.is_sqlite:
        pytest.skip("the refusal is SQLite's")
    with cli_env.transaction() as session:
        setup_township(session)
    done = run_cli("site", "transfer", "--from", "130123100", "--to", "BT", "--json")
    assert done.exit_code == 1 and "PostgreSQL" in json.loads(done.output)["error"]


def test_dry_run_then_transfer_writes_the_documents(cli_env: Database, run_cli: Callable[..., Result],
                                                    rules: LendingRules, tmp_path: Path) -> None:
    if cli_env.is_sqlite:
        pytest.skip("a transfer needs two sites, and several sites need PostgreSQL")
    with cli_env.transaction() as session:
        build_county(session, rules)
    with cli_env.reader() as session:
        before = count_rows(session)

    preview = run_cli("site", "transfer", "--from", "BT", "--to", "130123100", "--dry-run", "--json")
    assert preview.exit_code == 0, preview.output
    planned = json.loads(preview.output)
    assert planned["dry_run"] and planned["handover"] is None and planned["folders"] == 7 and planned["written"] == {}
    assert [d["key"] for d in planned["documents"]] == ["handover", "picklist", "labels"]
    assert planned["after"]["source"]["households"] == 0 and planned["after"]["target"]["households"] == 14
    with cli_env.reader() as session:
        assert count_rows(session) == before

    text = run_cli("site", "transfer", "--from", "BT", "--to", "130123100", "--dry-run")
    assert "移交预览" in text.output and f"--expect {planned['fingerprint']}" in text.output

    out = tmp_path / "docs"
    done = run_cli("site", "transfer", "--from", "BT", "--to", "130123100", "--expect", planned["fingerprint"],
                   "--supervisor", "县卫生健康局 周科长", "-o", str(out), "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    assert result["handover"] == "YJ-2026-0001" and result["fingerprint"] == planned["fingerprint"]
    assert result["event"] and result["after"] == planned["after"]
    written = {key: Path(path) for key, path in result["written"].items()}
    assert set(written) == {"handover", "picklist", "labels"} and all(p.parent == out for p in written.values())
    handover = [compact(page) for page in page_texts(written["handover"])]
    for copy in ("移交方留存", "接收方留存", "监交方留存"):
        assert sum(copy in page for page in handover) >= 1
    assert all("柏棠镇卫生院" in page and "县卫生健康局周科长" in page for page in handover)
    picks = compact("".join(page_texts(written["picklist"])))
    assert "调档单" in picks and "YJ-2026-0001" in picks
    labels = compact("".join(page_texts(written["labels"])))
    assert "东村" in labels and "西村" in labels

    reprint = run_cli("--site", "BT", "handover", "pdf", "YJ-2026-0001", "-o", str(tmp_path / "again.pdf"))
    assert reprint.exit_code == 0, reprint.output  # the closed site's history is still read (and printed)
    assert compact("".join(page_texts(tmp_path / "again.pdf"))) == compact("".join(page_texts(written["handover"])))

    again = run_cli("site", "transfer", "--from", "BT", "--to", "130123100", "--json")
    assert again.exit_code == 1 and "已撤并" in json.loads(again.output)["error"]
    listed = run_cli("site", "list", "--json")
    assert [s["status"] for s in json.loads(listed.output)] == ["active", "closed"]
