"""Seeded synthetic townships (演示数据) for demos, tests and benchmarks: realistic households, no real people."""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from archiveprint.errors import Conflict, InvalidValue
from archiveprint.register import services
from archiveprint.register.codes import SERIAL_MAX, parse_code
from archiveprint.register.idcard import make_id_number

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# A fictional township (柏棠镇) under a real county code, so ID numbers carry a valid area code.
COUNTY_CODE, COUNTY_NAME = "130123", "正定县"
TOWNSHIP_CODE, TOWNSHIP_NAME = "100", "柏棠镇"
EXPORT_HEADERS = ("档案编号", "姓名", "性别", "出生日期", "身份证号", "与户主关系", "户主姓名", "户号", "现住址",
                  "所属村(居)委会", "联系电话", "建档日期", "人群分类", "预产期", "分娩日期", "结核治疗开始日期")
CAMPAIGN_START = date(2009, 10, 1)  # the national register started with the 2009 basic public health package

COMMITTEES = ("东关社区", "西关社区", "南关社区", "北关社区")
STREETS = ("建设路", "人民街", "文化路", "新华街", "胜利路", "和平街", "育才路", "光明街")
VILLAGE_STEMS = ("柏棠", "楼", "寨", "辛庄", "营", "岗", "里铺", "孟村", "杜村", "高家庄", "宋庄", "塔元", "留村",
                 "永安", "吴兴", "马家坊", "三里屯", "贾村", "韩家楼", "新城铺")
DIRECTIONS = ("东", "西", "南", "北", "前", "后", "大", "小")

# Surnames with rough national frequencies (per mille); compound and rare ones appear now and then.
SURNAMES: dict[str, float] = {
    "王": 71, "李": 70, "张": 69, "刘": 54, "陈": 45, "杨": 31, "赵": 23, "黄": 22, "周": 17, "吴": 16, "徐": 13,
    "孙": 12, "胡": 11, "朱": 11, "高": 10, "林": 10, "何": 10, "郭": 10, "马": 9, "罗": 8, "梁": 7, "宋": 7,
    "郑": 7, "谢": 6, "韩": 6, "唐": 5, "冯": 5, "于": 5, "董": 5, "程": 4, "曹": 4, "袁": 4, "邓": 4, "许": 4,
    "傅": 4, "沈": 4, "曾": 3, "彭": 3, "吕": 3, "苏": 3, "卢": 3, "蒋": 3, "蔡": 3, "贾": 3, "魏": 3, "薛": 2,
    "阎": 2, "段": 2, "侯": 2, "史": 2, "单": 1, "解": 1, "仇": 0.5, "查": 0.5, "翟": 1, "乐": 0.5,
    "欧阳": 1.2, "司马": 0.6, "上官": 0.6, "诸葛": 0.3, "𠮷": 0.5,
}
RARE_SURNAMES = frozenset({"𠮷"})
RARE_CHARS = ("堃", "犇", "喆", "昇", "䶮")
# Given names by birth cohort (so grandparents are 桂兰 and grandchildren 子涵) and sex.
GIVEN: dict[tuple[int, str], tuple[str, ...]] = {
    (1900, "1"): ("建国", "国庆", "德福", "富贵", "春生", "明", "文", "有才", "成", "金山", "海", "林", "宝山", "永祥",
                  "振华", "树森", "保国", "长顺", "老五", "守义"),
    (1900, "2"): ("桂兰", "秀英", "淑珍", "玉兰", "凤英", "秀兰", "桂英", "玉珍", "淑兰", "素芬", "翠花", "春梅",
                  "凤兰", "桂芝", "淑琴", "素珍", "玉梅", "秀云"),
    (1960, "1"): ("建军", "建华", "志强", "志刚", "伟", "军", "勇", "磊", "涛", "强", "斌", "海涛", "卫东", "红军",
                  "立新", "新民", "国华", "永红", "学军", "金生"),
    (1960, "2"): ("丽", "红", "艳", "芳", "静", "燕", "霞", "敏", "丽华", "红梅", "海燕", "晓梅", "秀云", "春燕",
                  "丽娟", "彩霞", "小红", "美玲"),
    (1985, "1"): ("浩", "鹏", "帅", "超", "亮", "杰", "鑫", "宇", "志远", "晓东", "佳乐", "俊杰", "家豪", "明辉",
                  "旭", "博", "晨阳", "振宇"),
    (1985, "2"): ("婷婷", "欣", "丹", "倩", "雪", "晶", "颖", "佳", "璐", "莹", "梦瑶", "雨欣", "思雨", "晓雪", "静怡",
                  "佳琪", "文静", "亚楠"),
    (2005, "1"): ("子轩", "浩然", "宇航", "梓豪", "俊熙", "一诺", "皓轩", "沐阳", "子墨", "睿", "泽宇", "铭轩",
                  "奕辰", "锦程", "子豪", "嘉懿"),
    (2005, "2"): ("子涵", "欣怡", "梓涵", "诗涵", "雨桐", "一诺", "梦琪", "可馨", "语嫣", "若汐", "思彤", "欣妍",
                  "梓萱", "雅琪", "紫涵", "沐晴"),
}
DOTTED_GIVEN = {"1": ("艾买提", "买买提", "阿里木", "艾尔肯"), "2": ("阿依古丽", "古丽娜尔", "热依拉", "帕提古丽")}
DOTTED_FATHER = ("买买提", "吐尔逊", "艾力", "阿不都热合曼", "玉素甫")
# Age-band prevalence (roughly the rural figures of the national surveys): (min age, hypertension, type 2 diabetes).
CHRONIC = ((75, 0.50, 0.16), (65, 0.42, 0.15), (55, 0.28, 0.11), (45, 0.15, 0.07), (35, 0.06, 0.03),
           (18, 0.01, 0.005), (0, 0.0, 0.0))
RELATION_RANK = {"户主": 0, "配偶": 1, "父亲": 2, "母亲": 3, "儿子": 4, "女儿": 4, "儿媳": 5, "孙子": 6, "孙女": 6}
PHONE_PREFIXES = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156",
                  "157", "158", "159", "166", "170", "176", "177", "180", "181", "183", "185", "186", "187", "188",
                  "189", "191", "198", "199")


@dataclass(frozen=True)
class SyntheticPerson:
    """One made-up resident as the provincial platform would list them."""

    archive_code: str
    name: str
    sex: str
    birth_date: date
    id_number: str
    phone: str
    relation_to_head: str
    registered_on: date
    tags: list[str]
    # The dates the service schedules count from: 孕产妇 have a 预产期 (and a 分娩日期 once delivered), 肺结核
    # patients a treatment start.
    due_date: date | None = None
    delivery_date: date | None = None
    tb_treatment_start: date | None = None

    def service_dates(self) -> dict[str, date | None]:
        return {"due_date": self.due_date, "delivery_date": self.delivery_date,
                "tb_treatment_start": self.tb_treatment_start}


@dataclass(frozen=True)
class SyntheticHousehold:
    village_code: str
    external_no: str  # 户号
    head_name: str
    address: str
    members: list[SyntheticPerson]


@dataclass(frozen=True)
class SyntheticVillage:
    code: str
    name: str


@dataclass(frozen=True)
class SyntheticTownship:
    """A whole township: villages in code order, households in 户号 order, members head first."""

    county_code: str
    county_name: str
    township_code: str
    township_name: str
    unit_name: str
    villages: list[SyntheticVillage]
    households: list[SyntheticHousehold]

    @property
    def resident_count(self) -> int:
        return sum(len(household.members) for household in self.households)


@dataclass
class _Draft:
    """A person before codes are handed out (codes follow registration order across the village)."""

    name: str
    sex: str
    birth_date: date
    relation: str
    id_number: str = ""
    phone: str = ""
    registered_on: date = CAMPAIGN_START
    tags: tuple[str, ...] = ()


def age_on(born: date, today: date) -> int:
    """Completed years on `today`."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


class _Generator:
    """All random choices go through one `random.Random(seed)`, so a seed always gives the same township."""

    def __init__(self, seed: int, today: date, rare: bool) -> None:
        self.rng = random.Random(seed)
        self.today = today
        self.rare = rare
        self.used_ids: set[str] = set()
        self.used_phones: set[str] = set()
        names = [s for s in SURNAMES if rare or s not in RARE_SURNAMES]
        self.surnames, self.surname_weights = names, [SURNAMES[s] for s in names]

    # --- people -------------------------------------------------------------------------------------------

    def birth(self, age: int) -> date:
        """A birth date giving exactly `age` completed years today."""
        latest = _years_before(self.today, age)
        earliest = _years_before(self.today, age + 1) + timedelta(days=1)
        return earliest + timedelta(days=self.rng.randrange((latest - earliest).days + 1))

    def given_name(self, sex: str, born: date) -> str:
        cohort = max(year for year in (1900, 1960, 1985, 2005) if born.year >= year or year == 1900)
        if self.rare and born.year >= 1975 and self.rng.random() < 0.006:
            rare = self.rng.choice(RARE_CHARS)
            return rare if self.rng.random() < 0.5 else self.rng.choice(GIVEN[(cohort, sex)])[:1] + rare
        return self.rng.choice(GIVEN[(cohort, sex)])

    def person(self, surname: str, sex: str, age: int, relation: str) -> _Draft:
        born = self.birth(max(0, age))
        return _Draft(surname + self.given_name(sex, born), sex, born, relation)

    def dotted(self, sex: str, age: int, relation: str) -> _Draft:
        name = f"{self.rng.choice(DOTTED_GIVEN[sex])}·{self.rng.choice(DOTTED_FATHER)}"
        return _Draft(name, sex, self.birth(age), relation)

    def id_number(self, sex: str, born: date) -> str:
        while True:  # odd sequence codes are men's, even ones women's (GB 11643)
            sequence = self.rng.randrange(500) * 2 + 1 if sex == "1" else self.rng.randrange(499) * 2 + 2
            number = make_id_number(COUNTY_CODE, born, sequence)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def phone(self) -> str:
        while True:
            number = self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    # --- households ---------------------------------------------------------------------------------------

    def household(self, surname: str) -> list[_Draft]:
        """Head first, then spouse, parents, children, daughter-in-law, grandchildren (at most 7)."""
        rng = self.rng
        head_age = rng.choices((rng.randint(25, 34), rng.randint(35, 44), rng.randint(45, 54), rng.randint(55, 64),
                                rng.randint(65, 74), rng.randint(75, 90)), weights=(12, 18, 24, 22, 15, 9))[0]
        head_sex = "2" if rng.random() < 0.12 else "1"
        head = self.person(surname, head_sex, head_age, "户主")
        members = [head]
        married = rng.random() < (0.78 if head_age < 30 else 0.9 if head_age < 70 else 0.7 if head_age < 80 else 0.5)
        spouse_sex = "2" if head_sex == "1" else "1"
        if married and head_sex == "2" and rng.random() < 0.6:
            married = False  # most female heads are widowed or their husband works away
        father_surname = surname
        if married:
            gap = round(rng.gauss(2.0, 2.5)) * (1 if spouse_sex == "2" else -1)
            spouse_age = max(20, min(head_age - gap, 95))
            if rng.random() < 0.008:
                members.append(self.dotted(spouse_sex, spouse_age, "配偶"))
            else:
                spouse_surname = rng.choices(self.surnames, self.surname_weights)[0]
                members.append(self.person(spouse_surname, spouse_sex, spouse_age, "配偶"))
                if spouse_sex == "1":
                    father_surname = spouse_surname
        if head_age <= 60 and rng.random() < 0.18:
            parent_age = head_age + rng.randint(22, 34)
            if parent_age <= 96:
                mother = rng.random() < 0.65
                members.append(self.person(surname if not mother else rng.choices(self.surnames,
                                                                                    self.surname_weights)[0],
                                           "2" if mother else "1", parent_age, "母亲" if mother else "父亲"))
        parents_age = min(head_age, age_on(members[1].birth_date, self.today)) if married else head_age
        children = rng.choices((0, 1, 2, 3), weights=(8, 35, 40, 17) if head_age < 60 else (5, 25, 40, 30))[0]
        stayed_son: _Draft | None = None
        for _ in range(children):
            child_age = parents_age - rng.randint(20, 35)
            if child_age < 0 or (child_age >= 18 and rng.random() < (0.4 if child_age <= 30 else 0.7)):
                continue  # not yet born, or grown up and moved out
            sex = rng.choice("12")
            child = self.person(father_surname, sex, child_age, "儿子" if sex == "1" else "女儿")
            members.append(child)
            if sex == "1" and child_age >= 22 and stayed_son is None:
                stayed_son = child
        if stayed_son is not None and head_age >= 48 and rng.random() < 0.7:
            son_age = age_on(stayed_son.birth_date, self.today)
            members.append(self.person(rng.choices(self.surnames, self.surname_weights)[0], "2",
                                       max(20, son_age + rng.randint(-3, 2)), "儿媳"))
            for _ in range(rng.choice((1, 1, 2, 2, 3))):
                grandchild_age = son_age - rng.randint(21, 32)
                if grandchild_age >= 0:
                    sex = rng.choice("12")
                    members.append(self.person(father_surname, sex, grandchild_age, "孙子" if sex == "1" else "孙女"))
        members.sort(key=lambda person: (RELATION_RANK[person.relation], person.birth_date))
        return members[:7]

    def tags(self, person: _Draft, infant_mother: bool) -> tuple[str, ...]:
        """Population groups for an age, drawn with prevalence that rises with age."""
        rng, age = self.rng, age_on(person.birth_date, self.today)
        hypertension, diabetes = next((h, d) for floor, h, d in CHRONIC if age >= floor)
        has_hypertension = rng.random() < hypertension
        tags = {
            "老年人": age >= 65,
            "高血压": has_hypertension,
            "2型糖尿病": rng.random() < diabetes * (1.6 if has_hypertension else 0.8),
            "严重精神障碍": age >= 15 and rng.random() < 0.005,
            "肺结核": age >= 15 and rng.random() < 0.001,
            "孕产妇": person.sex == "2" and 20 <= age <= 40 and (infant_mother or rng.random() < 0.05),
            "0-6岁儿童": age <= 6,
            "残疾人": rng.random() < (0.04 if age >= 60 else 0.01),
        }
        return tuple(tag for tag, present in tags.items() if present)

    def finish(self, members: list[_Draft], since: date) -> None:
        """ID numbers, phones, registration dates and tags once the family is complete."""
        rng = self.rng
        infant = any((self.today - m.birth_date).days < 90 for m in members)
        head_phone = self.phone()
        for person in members:
            age = age_on(person.birth_date, self.today)
            person.id_number = self.id_number(person.sex, person.birth_date)
            if person.relation == "户主":
                person.phone = head_phone
            elif 18 <= age <= 75 and rng.random() < 0.8:
                person.phone = self.phone()
            elif rng.random() < 0.6:
                person.phone = head_phone
            if person.birth_date < since:
                person.registered_on = since
            else:  # born after the family's record was opened: registered at the first newborn visit
                person.registered_on = min(self.today, person.birth_date + timedelta(days=rng.randint(3, 40)))
            mother_of_infant = infant and person.relation in ("配偶", "儿媳", "户主")
            person.tags = self.tags(person, mother_of_infant and person.sex == "2")


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _village_list(rng: random.Random, count: int) -> list[SyntheticVillage]:
    committees = min(len(COMMITTEES), max(1 if count >= 2 else 0, count // 3))
    pool = [f"{direction}{stem}" + ("" if stem.endswith("村") else "村") for stem in VILLAGE_STEMS
            for direction in DIRECTIONS]
    rng.shuffle(pool)
    villages = [SyntheticVillage(f"{i + 1:03d}", COMMITTEES[i]) for i in range(committees)]
    villages += [SyntheticVillage(f"{201 + i}", pool[i]) for i in range(count - committees)]
    return villages


def generate(*, seed: int = 2026, villages: int = 6, households_per_village: int = 60, today: date,
             rare: bool = True) -> SyntheticTownship:
    """A made-up township; the same arguments always give the same people.

    `rare=False` leaves out names with characters outside GBK (𠮷, 䶮), for exports meant for GBK tools.
    """
    if not 1 <= villages <= len(COMMITTEES) + 199:
        raise InvalidValue("村数应为 1–{most}",
                           params={"most": len(COMMITTEES) + 199}, field="villages", value=villages)
    if households_per_village < 1:
        raise InvalidValue("每村户数至少为1", field="households", value=households_per_village)
    gen = _Generator(seed, today, rare)
    rng = gen.rng
    # The service dates draw from their own generator, so adding them changed none of the values drawn before.
    dates_rng = random.Random(f"{seed}:service-dates")
    start = min(CAMPAIGN_START, today - timedelta(days=400))
    households: list[SyntheticHousehold] = []
    village_list = _village_list(rng, villages)
    for village in village_list:
        dominant = rng.sample(gen.surnames[:20], 2)  # Hebei villages are often 王家庄: two or three big lineages
        weights = [w + (200 if s == dominant[0] else 90 if s == dominant[1] else 0)
                   for s, w in zip(gen.surnames, gen.surname_weights, strict=True)]
        drafts: list[tuple[date, list[_Draft]]] = []
        for _ in range(households_per_village):
            members = gen.household(rng.choices(gen.surnames, weights)[0])
            adult = _years_before(members[0].birth_date, -18)
            earliest = max(start, adult)
            span = max(0, (today - timedelta(days=7) - earliest).days)
            campaign = rng.random() < 0.4 and earliest <= date(2012, 12, 31)
            since = earliest + timedelta(days=rng.randrange(
                min(span, (date(2012, 12, 31) - earliest).days) + 1 if campaign else span + 1))
            gen.finish(members, since)
            drafts.append((since, members))
        drafts.sort(key=lambda item: item[0])  # 户号 in the order the families were first registered
        order = sorted(((person.registered_on, h, m) for h, (_, members) in enumerate(drafts)
                        for m, person in enumerate(members)))
        if len(order) > SERIAL_MAX:
            raise InvalidValue("一个村最多 {serial_max} 人",
                               params={"serial_max": SERIAL_MAX}, field="households", value=households_per_village)
        prefix = COUNTY_CODE + TOWNSHIP_CODE + village.code
        codes = {(h, m): f"{prefix}{serial:05d}" for serial, (_, h, m) in enumerate(order, start=1)}
        addresses = _addresses(rng, village, len(drafts))
        for h, (_, members) in enumerate(drafts):
            people = [SyntheticPerson(codes[(h, m)], p.name, p.sex, p.birth_date, p.id_number, p.phone, p.relation,
                                      p.registered_on, list(p.tags), **_service_dates(dates_rng, p, members, today))
                      for m, p in enumerate(members)]
            households.append(SyntheticHousehold(village.code, f"{prefix}{h + 1:04d}", people[0].name,
                                                 addresses[h], people))
    return SyntheticTownship(COUNTY_CODE, COUNTY_NAME, TOWNSHIP_CODE, TOWNSHIP_NAME, f"{TOWNSHIP_NAME}卫生院",
                             village_list, households)


def _service_dates(rng: random.Random, person: _Draft, household: list[_Draft], today: date) -> dict[str, date]:
    """A 孕产妇's 预产期, and her 分娩日期 when she has delivered (on the birthday of the household's baby, or lately
    with the baby not yet registered); a 肺结核 patient's treatment start within the last six months."""
    dates: dict[str, date] = {}
    if "孕产妇" in person.tags:
        babies = [m.birth_date for m in household if m is not person and (today - m.birth_date).days < 90]
        delivered = max(babies) if babies else None
        if delivered is None and rng.random() < 0.2:
            delivered = today - timedelta(days=rng.randint(1, 41))
        if delivered is None:
            dates["due_date"] = today + timedelta(days=rng.randint(7, 280))
        else:
            dates["delivery_date"] = delivered
            dates["due_date"] = delivered + timedelta(days=rng.randint(-14, 10))
    if "肺结核" in person.tags:
        dates["tb_treatment_start"] = today - timedelta(days=rng.randint(0, 182))
    return dates


def _addresses(rng: random.Random, village: SyntheticVillage, count: int) -> list[str]:
    """Distinct door addresses: 东关村3组17号 in villages, 东关社区建设路17号 in residents' committees."""
    committee = village.name.endswith("社区")
    groups = STREETS[:max(2, min(len(STREETS), count // 40 + 2))] if committee else \
        [f"{n}组" for n in range(1, max(3, count // 25 + 2) + 1)]
    next_no = dict.fromkeys(groups, 0)
    addresses = []
    for _ in range(count):
        group = rng.choice(groups)
        next_no[group] += rng.choice((1, 1, 1, 2, 3))
        addresses.append(f"{village.name}{group}{next_no[group]}号")
    return addresses


def load(session: Session, township: SyntheticTownship, *, actor: str,
         progress: Callable[[int], None] | None = None) -> str:
    """Write the township through the register services, as clerks would have; the caller commits."""
    configured = services.configure_township(session, township.county_code, township.county_name,
                                             township.township_code, township.township_name,
                                             unit_name=township.unit_name, actor=actor)
    known = {village.code for village in configured.villages}
    if any(village.code in known for village in township.villages):
        raise Conflict("演示数据已载入过（村(居)委会代码已存在）；请换一个空数据库", field="村代码")
    villages = {v.code: services.add_village(session, v.code, v.name, actor=actor) for v in township.villages}
    for household in township.households:
        row = services.create_household(session, villages[household.village_code], head_name=household.head_name,
                                        address=household.address, external_no=household.external_no, actor=actor)
        for person in household.members:
            services.register_resident(
                session, row, name=person.name, sex=person.sex, birth_date=person.birth_date,
                id_number=person.id_number, phone=person.phone, relation_to_head=person.relation_to_head,
                registered_on=person.registered_on, tags=person.tags, code=parse_code(person.archive_code),
                dates={key: day for key, day in person.service_dates().items() if day is not None}, actor=actor)
        if progress is not None:
            progress(len(household.members))
    return (f"已载入 演示乡镇 {township.county_name}{township.township_name}（{township.county_code}"
            f"{township.township_code}）：{len(township.villages)} 个村，{len(township.households)} 户，"
            f"{township.resident_count} 人")


def export_rows(township: SyntheticTownship) -> list[list[str]]:
    """The data rows of a platform export (header not included), village by village, head of household first."""
    names = {village.code: village.name for village in township.villages}
    return [[p.archive_code, p.name, "男" if p.sex == "1" else "女", p.birth_date.isoformat(), p.id_number,
             p.relation_to_head, h.head_name, h.external_no, h.address, names[h.village_code], p.phone,
             p.registered_on.isoformat(), "、".join(p.tags),
             *(day.isoformat() if day else "" for day in p.service_dates().values())]
            for h in township.households for p in h.members]


def write_export(township: SyntheticTownship, path: Path, *, encoding: str = "utf-8-sig") -> int:
    """Write a provincial-platform style 花名册 (.xlsx or .csv by suffix); returns the number of data rows.

    Text stays text (codes, ID numbers and phones never become numbers). A .csv in an encoding that cannot hold a
    rare name (𠮷 and 䶮 are not in GBK) raises InvalidValue naming the row and leaves no file behind; use gb18030
    or utf-8-sig, or generate with `rare=False`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise InvalidValue("导出文件应为 .xlsx 或 .csv", field="文件", value=path.name)
    title = f"{township.township_name}居民健康档案花名册"
    rows = export_rows(township)
    if suffix == ".xlsx":
        _write_xlsx(path, title, rows)
    else:
        _write_csv(path, title, rows, encoding)
    return len(rows)


def _write_xlsx(path: Path, title: str, rows: list[list[str]]) -> None:
    from openpyxl import Workbook  # lazy: openpyxl (~0.1 s) only to write an .xlsx
    from openpyxl.utils import get_column_letter  # lazy: openpyxl (~0.1 s) only to write an .xlsx

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("花名册")
    for column, width in enumerate((20, 10, 6, 12, 21, 10, 10, 18, 26, 14, 13, 12, 24, 12, 12, 16), start=1):
        sheet.column_dimensions[get_column_letter(column)].width = width
    sheet.append([title])
    sheet.merged_cells.add(f"A1:{get_column_letter(len(EXPORT_HEADERS))}1")  # written at save, as exports have it
    sheet.append(list(EXPORT_HEADERS))
    for row in rows:
        sheet.append(row)
    workbook.save(path)


def _write_csv(path: Path, title: str, rows: list[list[str]], encoding: str) -> None:
    written = 2  # lines in the file so far: title and header
    try:
        with path.open("w", encoding=encoding, newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([title] + [""] * (len(EXPORT_HEADERS) - 1))
            writer.writerow(EXPORT_HEADERS)
            for row in rows:
                writer.writerow(row)
                written += 1
    except UnicodeEncodeError as error:
        path.unlink(missing_ok=True)
        bad = error.object[error.start:error.end]
        raise InvalidValue("“{bad}”无法用 {encoding} 编码写出（生僻字）；请改用 gb18030 或 utf-8-sig，"
                           "或生成时使用 rare=False",
                           params={"bad": bad, "encoding": encoding}, row=written + 1, value=bad) from None
