"""A village as the issue describes it: 20 hypertension patients among many residents (spouses, children, others)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from archiveprint.register import services
from tests.conftest import ACTOR

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜戚谢邹喻柏水窦章"


@dataclass
class Village:
    """Who lives in 东村 (201) by role, names only; 西村 (202) holds three more patients."""

    patients: list[str] = field(default_factory=list)  # 高血压, heads of households 1–20
    diabetic_patients: list[str] = field(default_factory=list)  # 高血压 and 2型糖尿病 (every fourth patient)
    others: list[str] = field(default_factory=list)  # spouses, children, the heads of households 21–40
    children: list[str] = field(default_factory=list)  # born 2023: 0～6岁 by age, with no tag
    west_patients: list[str] = field(default_factory=list)

    @property
    def residents(self) -> int:
        return len(self.patients) + len(self.others)


def seed_patients(session: Session) -> Village:
    """40 households in 东村: 1–20 a 高血压 head (every fourth also 2型糖尿病), a spouse, and in 1–10 a child born
    2023; 21–40 a head and a spouse with no tag — 90 residents, 20 of them hypertension patients. 西村: 3 patients.
    Expects the township of tests.conftest.setup_township."""
    made = Village()
    east = services.find_village(session, "201")
    for n, surname in enumerate(SURNAMES[:40]):
        patient = n < 20
        head = f"{surname}大山" if patient else f"{surname}大海"
        home = services.create_household(session, east, head_name=head, address=f"东村{n + 1}号", actor=ACTOR)
        tags = (["高血压", "2型糖尿病"] if n % 4 == 0 else ["高血压"]) if patient else []
        services.register_resident(session, home, name=head, sex="1", birth_date=date(1958, 1, 1 + n % 28),
                                   relation_to_head="户主", tags=tags, actor=ACTOR)
        (made.patients if patient else made.others).append(head)
        if "2型糖尿病" in tags:
            made.diabetic_patients.append(head)
        spouse = f"{surname}秀英"
        services.register_resident(session, home, name=spouse, sex="2", birth_date=date(1960, 2, 2),
                                   relation_to_head="配偶", actor=ACTOR)
        made.others.append(spouse)
        if n < 10:
            child = f"{surname}小宝"
            services.register_resident(session, home, name=child, sex="1", birth_date=date(2023, 3, 3),
                                       relation_to_head="孙子", actor=ACTOR)
            made.others.append(child)
            made.children.append(child)
    west = services.find_village(session, "202")
    for surname in "甲乙丙":
        name = f"{surname}西山"
        home = services.create_household(session, west, head_name=name, actor=ACTOR)
        services.register_resident(session, home, name=name, sex="1", birth_date=date(1950, 5, 5),
                                   relation_to_head="户主", tags=["高血压"], actor=ACTOR)
        made.west_patients.append(name)
    return made
