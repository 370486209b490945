"""The draw: sample size from a margin (finite-population correction), proportional allocation with a minimum per
village, the seeded shuffle reproducible from its seed, lent and missing folders reported (or replaced), the Wilson
interval against published values — on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import date

import pytest

from archiveprint.errors import InvalidValue
from archiveprint.inspections import draw
from archiveprint.inspections.services import draw_inspection, replace_folder
from archiveprint.lending.queries import status_provider
from tests.conftest import ACTOR
from tests.inspections.conftest import NOW, ON, Register

# --- pure ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("margin", "confidence", "population", "expected"), [
    (0.05, 0.95, 10**9, 385),  # n₀ = 1.96²·0.25/0.0025 = 384.1 → 385
    (0.05, 0.95, 1000, 278),  # 384.1 / (1 + 383.1/1000) = 277.7 → 278
    (0.05, 0.95, 200, 132),  # 384.1 / (1 + 383.1/200) = 131.7
    (0.10, 0.95, 10**9, 97),  # 96.04 → 97
    (0.05, 0.90, 10**9, 271),  # z = 1.645: 270.6 → 271
    (0.05, 0.95, 50, 45),  # 384.1 / (1 + 383.1/50) = 44.3 → 45
    (0.05, 0.95, 3, 3),
])
def test_size_from_margin_and_confidence_with_finite_population_correction(margin, confidence, population, expected):
    assert draw.size_for_margin(margin, confidence, population) == expected


def test_size_refuses_a_margin_or_confidence_out_of_range():
    with pytest.raises(InvalidValue, match="允许误差"):
        draw.size_for_margin(0, 0.95, 100)
    with pytest.raises(InvalidValue, match="置信水平"):
        draw.size_for_margin(0.05, 1.0, 100)


@pytest.mark.parametrize(("hits", "total", "low", "high"), [
    (8, 10, 0.4902, 0.9433),  # Wilson (1927); Newcombe (1998) method 3
    (81, 263, 0.2553, 0.3662),  # Newcombe (1998) table I, example (a)
    (15, 148, 0.0624, 0.1605),  # ditto (b)
    (0, 20, 0.0, 0.1611),  # ditto (c)
    (1, 29, 0.0061, 0.1718),  # ditto (d)
    (10, 10, 0.7225, 1.0),
])
def test_wilson_interval_against_published_values(hits, total, low, high):
    interval = draw.wilson(hits, total, 0.95)
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)
    assert interval.rate == hits / total


def test_no_folders_counted_is_no_rate_not_zero():
    assert draw.wilson(0, 0) is None


def test_allocation_is_proportional_with_a_minimum_per_village_and_adds_up():
    assert draw.allocate({"a": 500, "b": 300, "c": 20, "d": 3}, 50, 5) == {"a": 26, "b": 16, "c": 5, "d": 3}
    assert draw.allocate({"a": 40, "b": 20, "c": 40}, 10, 0) == {"a": 4, "b": 2, "c": 4}
    assert draw.allocate({"a": 10, "b": 5}, 15, 2) == {"a": 10, "b": 5}  # the whole frame
    # the minimums alone exceed the size: the minimums are the allocation (the caller says the size was raised)
    assert draw.allocate({"a": 500, "b": 300, "c": 20, "d": 3}, 10, 5) == {"a": 5, "b": 5, "c": 5, "d": 3}
    sizes = {f"v{i}": random.Random(i).randint(1, 400) for i in range(12)}
    for total in (12, 50, 123, 400):
        counts = draw.allocate(sizes, total, 3)
        assert sum(counts.values()) == max(total, sum(min(3, s) for s in sizes.values()))
        assert all(min(3, sizes[k]) <= counts[k] <= sizes[k] for k in sizes)


def test_the_shuffle_is_pythons_random_seeded_with_seed_and_village():
    members = list(range(1, 31))
    expected = members[:]
    random.Random("2026-11-25/201").shuffle(expected)
    assert draw.shuffled("2026-11-25", "201", members) == expected
    assert draw.shuffled("2026-11-25", "202", members) != expected


# --- on the register ----------------------------------------------------------------------------------------------

def number_of(folder) -> int:  # type: ignore[no-untyped-def]
    """The household number in a folder's display code (130123-100-201-F00017-6 → 17)."""
    return int(folder.folder.split("-")[-2][1:])


def _households(inspection) -> list[int]:  # type: ignore[no-untyped-def]
    return [f.household_id for f in inspection.folders]


def test_the_same_seed_draws_the_same_folders(register: Register, checklist):
    session = register.session
    first = draw_inspection(session, seed="4711", size=12, inspector="县督导组", on=ON, checklist=checklist,
                            actor=ACTOR, now=NOW)
    again = draw_inspection(session, seed="4711", size=12, inspector="县督导组", on=ON, checklist=checklist,
                            actor=ACTOR, now=NOW)
    other = draw_inspection(session, seed="4712", size=12, inspector="县督导组", on=ON, checklist=checklist,
                            actor=ACTOR, now=NOW)
    assert (first.number, again.number, other.number) == ("CC-2026-0001", "CC-2026-0002", "CC-2026-0003")
    assert _households(first) == _households(again)
    assert first.frame_digest == again.frame_digest == other.frame_digest
    assert _households(first) != _households(other)
    # by hand: village 201's folders by household number, shuffled by random.Random("4711/201")
    numbers = [h.number for h in register.homes["201"][:-1]]  # the closed household is not in the frame
    random.Random("4711/201").shuffle(numbers)
    drawn = [f for f in first.folders if f.village_code == "201"]
    assert [number_of(f) for f in drawn] == numbers[:len(drawn)]
    assert [f.rank for f in drawn] == list(range(1, len(drawn) + 1))


def test_adding_a_village_leaves_the_other_villages_draws_alone(register: Register, checklist):
    session = register.session
    one = draw_inspection(session, seed="abc", size=10, minimum=0, villages=["201"], inspector="甲", on=ON,
                          checklist=checklist, actor=ACTOR, now=NOW)
    both = draw_inspection(session, seed="abc", size=14, minimum=0, villages=["201", "西村"], inspector="甲", on=ON,
                           checklist=checklist, actor=ACTOR, now=NOW)
    east = [f.household_id for f in both.folders if f.village_code == "201"]
    assert east == _households(one)[:len(east)]
    assert {f.village_code for f in one.folders} == {"201"}


def test_stratified_by_village_proportional_with_at_least_k(register: Register, checklist):
    session = register.session
    made = draw_inspection(session, seed="s", size=12, minimum=3, inspector="甲", on=ON, checklist=checklist,
                           actor=ACTOR, now=NOW)
    # frame: 201 has 39 households with an active resident, 202 has 15, 001 has 5 (59 in all)
    assert made.frame == 59
    # 12 × 5/59 = 1.0 < 3: 001 gets its minimum; the other 9 split 39 : 15 = 6.5 : 2.5, and 2.5 < 3: 202 gets its
    # minimum too; 201 takes the remaining 6
    assert {s["village"]: (s["frame"], s["size"]) for s in made.strata} == {
        "001": (5, 3), "201": (39, 6), "202": (15, 3)}
    assert made.size == 12 and "增至" not in made.method["text"]
    assert [f.village_code for f in made.folders] == ["001"] * 3 + ["201"] * 6 + ["202"] * 3
    raised = draw_inspection(session, seed="s", size=8, minimum=3, inspector="甲", on=ON, checklist=checklist,
                             actor=ACTOR, now=NOW)
    assert raised.size == 9 and [s["size"] for s in raised.strata] == [3, 3, 3]
    text = raised.method["text"]
    assert "为使每村至少 3 袋，增至 9 袋" in text and "随机种子“s”" in text
    assert f"抽样框指纹 {raised.frame_digest}" in text


def test_size_from_margin_over_the_frame(register: Register, checklist):
    made = draw_inspection(register.session, seed="m", margin=0.1, confidence=0.95, minimum=0, inspector="甲",
                           on=ON, checklist=checklist, actor=ACTOR, now=NOW)
    assert made.size == draw.size_for_margin(0.1, 0.95, 59) == 37  # 96.04 / (1 + 95.04/59) = 36.8
    assert made.requested_size is None and made.margin == 0.1
    assert "允许误差 ±10%、置信水平 95%" in made.method["text"]


def test_a_population_scope_draws_its_households_and_reads_its_members(register: Register, checklist):
    made = draw_inspection(register.session, seed="h", size=100, minimum=1, populations=["hypertension"],
                           inspector="甲", on=ON, checklist=checklist, actor=ACTOR, now=NOW)
    # heads of every third household are 高血压: 201 has 13 (3…39), 202 has 5, 001 has 1
    assert made.frame == 19 and made.size == 19
    for folder in made.folders:
        assert len(folder.residents) == 1  # the head, not the spouse
        assert number_of(folder) % 3 == 0
    assert "高血压患者" in made.scope_text and "属于高血压患者的在档居民" in made.method["text"]


def test_lent_and_missing_folders_are_drawn_and_reported_not_skipped(register: Register, checklist):
    made = draw_inspection(register.session, seed="x", size=59, inspector="甲", on=ON, checklist=checklist,
                           providers=[status_provider(register.rules)], actor=ACTOR, now=NOW)
    status = {f.household_id: (f.status_at_draw, f.status_text) for f in made.folders}
    assert status[register.lent.id][0] == "lent" and "钱医生" in status[register.lent.id][1]
    assert status[register.missing.id][0] == "missing"
    assert register.closed.id not in status
    assert "全部抽取" in made.method["text"]


def test_replacing_unavailable_folders_takes_the_next_reserve_of_the_village(register: Register, checklist):
    session = register.session
    provider = [status_provider(register.rules)]
    plain = draw_inspection(session, seed="r1", size=39, minimum=0, villages=["201"], inspector="甲", on=ON,
                            checklist=checklist, providers=provider, actor=ACTOR, now=NOW)
    # over the whole village, nothing is left to replace with
    assert {f.state for f in plain.folders} == {"sampled"}
    seed = next(s for s in (str(n) for n in range(200))
                if _drawn_among(register, s, 8, {register.lent.id, register.missing.id}))
    made = draw_inspection(session, seed=seed, size=8, minimum=0, villages=["201"], inspector="甲", on=ON,
                           checklist=checklist, providers=provider, replace_unavailable=True, actor=ACTOR, now=NOW)
    replaced = [f for f in made.folders if f.state == "replaced"]
    assert replaced and all(f.household_id in (register.lent.id, register.missing.id) for f in replaced)
    replacements = [f for f in made.folders if f.replaces_id in {r.id for r in replaced}]
    assert len(replacements) == len(replaced)
    assert all(f.status_at_draw == "on_shelf" and f.rank > 8 for f in replacements)
    assert sum(f.state == "sampled" for f in made.folders) == 8
    # later, by hand: the inspector gives up a folder; the next reserve comes in
    folder = next(f for f in made.folders if f.state == "sampled")
    new = replace_folder(session, folder, reason="不在本院", providers=provider, actor=ACTOR, now=NOW)
    assert folder.state == "replaced" and new.replaces_id == folder.id
    assert new.rank > max(f.rank for f in replacements)


def _drawn_among(register: Register, seed: str, size: int, wanted: set[int]) -> bool:
    homes = [(h.number, h.id, h.head_name) for h in register.homes["201"][:-1]]
    return bool(wanted & {hid for _n, hid, _h in draw.shuffled(seed, "201", homes)[:size]})


def test_a_draw_names_its_seed_inspector_and_a_size(register: Register, checklist):
    session = register.session
    for kwargs, message in ((dict(seed="", size=3), "随机种子"), (dict(seed="1"), "样本量"),
                            (dict(seed="1", size=3, margin=0.1), "二者选一"), (dict(seed="1", size=0), "样本量"),
                            (dict(seed="1", size=3, villages=["999"]), "没有这个村"),
                            (dict(seed="1", size=3, populations=["nobody"]), "没有这个重点人群")):
        with pytest.raises(Exception, match=message):
            draw_inspection(session, inspector="甲", on=ON, checklist=checklist, actor=ACTOR, now=NOW,
                            **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match="检查日期应在"):
        draw_inspection(session, seed="1", size=3, inspector="甲", on=date(1, 1, 1), checklist=checklist, actor=ACTOR,
                        now=NOW)
    with pytest.raises(InvalidValue, match="检查人"):
        draw_inspection(session, seed="1", size=3, inspector=" ", on=ON, checklist=checklist, actor=ACTOR, now=NOW)
