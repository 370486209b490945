"""The targets file: the shipped one, a site's override merged over it, and mistakes refused at their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiveprint.configfile import ConfigError
from archiveprint.indicators.targets import SITE_FILE, site_targets


def test_the_shipped_targets_hold_from_their_year_on() -> None:
    targets = site_targets(None)
    assert [m.id for m in targets.measures][:3] == ["overall", "children", "elderly"]
    assert targets.for_year(2026)["elderly"] == 0.9 and targets.for_year(2023) == {}
    elderly = targets.measure("65岁及以上老年人")
    assert elderly is not None and elderly.figure == "age65" and elderly.service == "elderly"
    assert elderly.denominator({"age65": 40}) == 40 and elderly.denominator({"age65": None}) is None


def test_a_site_raises_a_target_for_a_year_and_estimates_a_denominator(tmp_path: Path) -> None:
    (tmp_path / SITE_FILE).write_text(
        'measures:\n  hypertension: {figure: residents, share: 0.18}\n'
        'targets:\n  "2027": {overall: 0.95, hypertension: 0.6}\n', encoding="utf-8")
    targets = site_targets(tmp_path)
    assert targets.for_year(2026)["overall"] == 0.9  # the shipped year still holds before 2027
    assert targets.for_year(2028) == {"overall": 0.95, "hypertension": 0.6}
    hypertension = targets.measure("hypertension")
    assert hypertension is not None and hypertension.service == "hypertension"  # kept from the shipped file
    assert hypertension.denominator({"residents": 1000}) == 180


@pytest.mark.parametrize(("text", "line", "field"), [
    ('targets:\n  "2027":\n    overall: 90\n', 3, "overall"),
    ('measures:\n  elderly: {figure: age66}\n', 2, "figure"),
    ('measures:\n  pets: {figure: residents}\n', 2, "pets"),
    ('targets:\n  "2027":\n    pets: 0.9\n', 3, "pets"),
    ('measures:\n  elderly: {service: bingo}\n', 2, "service"),
])
def test_mistakes_name_the_file_line_and_field(tmp_path: Path, text: str, line: int, field: str) -> None:
    (tmp_path / SITE_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        site_targets(tmp_path)
    assert caught.value.row == line and caught.value.field == field and SITE_FILE in str(caught.value)
