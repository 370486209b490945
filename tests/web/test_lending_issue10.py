"""Issue #10 on the lending pages: in English mode the borrower kinds, lending purposes, return conditions and what a
request still lacks are English (#10.13), a site's own purpose stays as written; the desk offers the borrowers page
instead of a command (#10.11)."""

from __future__ import annotations

import pytest

from archiveprint.db import Database, utcnow
from archiveprint.lending.queries import find_borrower
from archiveprint.lending.requests import request_folders
from archiveprint.lending.rules import load_rules, shipped_rules_file
from archiveprint.register.codes import folder_code
from tests.conftest import ACTOR
from tests.lending.conftest import build_archive
from tests.web.test_lending_pages import sign_in


@pytest.fixture
def asked(committed_db: Database) -> list[str]:
    """The lending archive with one request from the county CDC (it lacks application, consent and approval)."""
    with committed_db.transaction() as session:
        made = build_archive(session, now=utcnow())
        codes = [folder_code(h.village.full_code, h.number).value for h in made["homes"]]
        request_folders(session, codes[:1], borrower=find_borrower(session, "cdc"), purpose="督导检查",
                        rules=load_rules([shipped_rules_file()]), actor=ACTOR, now=utcnow())
        return codes


def test_issue_10_13_lending_words_are_english_in_english_mode(client, asked):
    sign_in(client, "director")
    client.set_cookie("lang", "en")
    borrowers = client.get("/lending/borrowers").get_data(as_text=True)
    for english in ("Staff of this centre", "Village doctor", "Outside unit"):
        assert english in borrowers, english
    assert "本院职工" not in borrowers and "外单位<" not in borrowers
    checkout = client.get("/lending/checkout").get_data(as_text=True)
    for english in ("Follow-up consultation", "Follow-up visit", "Home visit", "Referral / consultation",
                    "Supervision", "Other"):
        assert f">{english}</option>" in checkout, english
    assert ">随访<" not in checkout
    queue = client.get("/lending/queue").get_data(as_text=True)
    for english in ("Written application (reference)", "Consent of the resident or guardian", "Approval",
                    "Supervision"):
        assert english in queue, english
    assert "居民或监护人同意的证明" not in queue and ">督导检查<" not in queue
    scan = client.get("/lending/scan").get_data(as_text=True)
    assert ">Intact</option>" in scan and ">Damaged</option>" in scan
    kinds = {row["key"]: row["kind_text"] for row in client.get("/api/v1/borrowers").json["borrowers"]}
    assert kinds == {"doctor1": "Staff of this centre", "wang": "Village doctor", "cdc": "Outside unit"}


def test_issue_10_13_a_purpose_the_site_renamed_is_shown_as_the_site_wrote_it(app, client, asked):
    (app.extensions["archiveprint"].settings.instance_dir / "lending_rules.yaml").write_text(
        "purposes:\n  follow_up: 慢病随访\n", encoding="utf-8")
    sign_in(client, "clerk1")
    client.set_cookie("lang", "en")
    checkout = client.get("/lending/checkout").get_data(as_text=True)
    assert ">慢病随访</option>" in checkout and ">Follow-up consultation</option>" in checkout


def test_issue_10_11_the_desk_offers_the_borrowers_page_not_a_command(client, asked):
    sign_in(client, "clerk1")
    for page in ("/lending/checkout", "/lending/scan"):
        html = client.get(page).get_data(as_text=True)
        assert 'href="/lending/borrowers"' in html and "登记新借阅人" in html, page
    page = client.get("/lending/checkout")
    from tests.web.conftest import csrf_token

    refused = client.post("/lending/checkout", data={"code": asked[1], "borrower": "nobody", "purpose": "follow_up",
                                                      "csrf_token": csrf_token(page)}, follow_redirects=True)
    text = refused.get_data(as_text=True)
    assert "没有这个借阅人（请先登记为借阅人）" in text and "archiveprint borrower" not in text
