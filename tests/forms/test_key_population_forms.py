"""The key-population forms of issue #12 (严重精神障碍, 肺结核, 中医药, 预防接种卡): each definition against the spec's
item list and option codes (../shared/spec/forms-key-populations.md §C–F and forms.md §6.11–6.12, written out here
as literals, so a definition cannot drift from the spec unnoticed), the codes printed beside their options, and
each form printed for a resident: A4 pages, the register's values on the form's own pages, a re-filing mark that
decodes on every page."""

from __future__ import annotations

from typing import NamedTuple

import pytest

from archiveprint.forms.catalog import load_catalog
from archiveprint.forms.layout import layout_form
from archiveprint.forms.stamp import refile_code
from tests.forms.test_engine import PERSON, print_one
from tests.pdfcheck import (
    A4_PT,
    assert_fonts_embedded_and_subset,
    compact,
    decode_barcodes,
    page_texts,
    rasterize,
    read,
)


class Item(NamedTuple):
    """One printed item as the spec gives it: its label, its option codes (None: not coded), its code boxes."""

    label: str
    options: dict[str, str] | None = None
    boxes: int | None = None


GOOD = {"1": "良好", "2": "一般", "3": "较差"}
SYMPTOMS_12 = {"1": "幻觉", "2": "交流困难", "3": "猜疑", "4": "喜怒无常", "5": "行为怪异", "6": "兴奋话多",
               "7": "伤人毁物", "8": "悲观厌世", "9": "无故外走", "10": "自语自笑", "11": "孤僻懒散", "12": "其他"}
MASTERED = {"1": "掌握", "2": "未掌握"}
NO_YES = {"1": "无", "2": "有"}
DOSAGE_FORMS = {"1": "固定剂量复合制剂", "2": "散装药", "3": "板式组合药", "4": "注射剂"}
SUPERVISORS = {"1": "医生", "2": "家属", "3": "自服药", "4": "其他"}
RISK = {"1": "轻度滋事", "2": "肇事", "3": "肇祸", "4": "其他危害行为", "5": "自伤", "6": "自杀未遂", "7": "无"}

SPEC: dict[str, list[Item]] = {
    # forms-key-populations.md §C1 (= forms.md §6.11)
    "mental_info": [
        Item("姓名"), Item("编号", boxes=8), Item("监护人姓名"), Item("与患者关系"), Item("监护人住址"),
        Item("监护人电话"), Item("辖区村（居）委会联系人、电话"),
        Item("户别", {"1": "城镇", "2": "农村"}),
        Item("就业情况", {"1": "在岗工人", "2": "在岗管理者", "3": "农民", "4": "下岗或无业", "5": "在校学生",
                      "6": "退休", "7": "专业技术人员", "8": "其他", "9": "不详"}),
        Item("知情同意", {"1": "同意参加管理", "0": "不同意参加管理"}), Item("签字"), Item("签字时间"),
        Item("初次发病时间"), Item("既往主要症状", SYMPTOMS_12, 12),
        Item("既往关锁情况", {"1": "无关锁", "2": "关锁", "3": "关锁已解除"}),
        Item("门诊", {"1": "未治", "2": "间断门诊治疗", "3": "连续门诊治疗"}), Item("首次抗精神病药治疗时间"),
        Item("曾住精神专科医院/综合医院精神专科"), Item("诊断"), Item("确诊医院"), Item("确诊日期"),
        Item("最近一次治疗效果", {"1": "临床痊愈", "2": "好转", "3": "无变化", "4": "加重"}),
        Item("危险行为", RISK),
        Item("经济状况", {"1": "贫困，在当地贫困线标准以下", "2": "非贫困", "3": "不详"}),
        Item("专科医生的意见（如果有请记录）"), Item("填表日期"), Item("医生签字"),
    ],
    # forms-key-populations.md §C2 (= forms.md §6.12; 外出务工 as the printed copies, 不详 ⑧, 12/6/5 boxes)
    "mental_followup": [
        Item("姓名"), Item("编号", boxes=8), Item("随访日期"),
        Item("本次随访形式", {"1": "门诊", "2": "家庭访视", "3": "电话"}),
        Item("若失访，原因", {"1": "外出务工", "2": "迁居他处", "3": "走失", "4": "连续3次未访到", "5": "其他"}),
        Item("死亡日期"),
        Item("躯体疾病", {"1": "传染病和寄生虫病", "2": "肿瘤", "3": "心脏病", "4": "脑血管病", "5": "呼吸系统疾病",
                      "6": "消化系统疾病", "7": "其他疾病", "8": "不详"}),
        Item("死亡原因", {"1": "躯体疾病", "2": "自杀", "3": "他杀", "4": "意外", "5": "精神疾病相关并发症",
                      "6": "其他"}),
        Item("危险性评估", {str(n): f"（{n}级）" for n in range(6)}),
        Item("目前症状", SYMPTOMS_12, 12),
        Item("自知力", {"1": "自知力完全", "2": "自知力不全", "3": "自知力缺失"}),
        Item("睡眠情况", GOOD), Item("饮食情况", GOOD), Item("个人生活料理", GOOD), Item("家务劳动", GOOD),
        Item("生产劳动及工作", {**GOOD, "9": "此项不适用"}), Item("学习能力", GOOD), Item("社会人际交往", GOOD),
        Item("危险行为", RISK, 6),
        Item("两次随访期间关锁情况", {"1": "无关锁", "2": "关锁", "3": "关锁已解除"}),
        Item("两次随访期间住院情况", {"0": "未住院", "1": "目前正在住院", "2": "曾住院，现未住院"}),
        Item("末次出院时间"), Item("实验室检查", {"1": "无", "2": "有"}),
        Item("用药依从性", {"1": "按医嘱规律用药", "2": "间断用药", "3": "不用药", "4": "医嘱勿需用药"}),
        Item("药物不良反应", {"1": "无", "2": "有", "9": "此项不适用"}),
        Item("治疗效果", {"1": "痊愈", "2": "好转", "3": "无变化", "4": "加重", "9": "此项不适用"}),
        Item("是否转诊", {"1": "否", "2": "是"}), Item("转诊原因"), Item("转诊至机构及科室"),
        Item("用药情况"), Item("用药指导"), Item("每次剂量"),
        Item("康复措施", {"1": "生活劳动能力", "2": "职业训练", "3": "学习能力", "4": "社会交往", "5": "其他"}, 5),
        Item("本次随访分类", {"1": "不稳定", "2": "基本稳定", "3": "稳定"}),
        Item("下次随访日期"), Item("随访医生签名"),
    ],
    # forms-key-populations.md §D1
    "tb_first_visit": [
        Item("姓名"), Item("编号", boxes=8), Item("随访时间"), Item("随访方式", {"1": "门诊", "2": "家庭"}),
        Item("患者类型", {"1": "初治", "2": "复治"}), Item("痰菌情况", {"1": "阳性", "2": "阴性", "3": "未查痰"}),
        Item("耐药情况", {"1": "耐药", "2": "非耐药", "3": "未检测"}),
        Item("症状及体征", {"0": "没有症状", "1": "咳嗽咳痰", "2": "低热盗汗", "3": "咯血或血痰", "4": "胸痛消瘦",
                       "5": "恶心纳差", "6": "头痛失眠", "7": "视物模糊", "8": "皮肤瘙痒、皮疹", "9": "耳鸣、听力下降",
                       "10": "其他"}, 10),
        Item("化疗方案"), Item("用法", {"1": "每日", "2": "间歇"}), Item("药品剂型", DOSAGE_FORMS, 4),
        Item("督导人员选择", SUPERVISORS), Item("单独的居室", {"1": "有", "2": "无"}),
        Item("通风情况", {"1": "良好", "2": "一般", "3": "差"}), Item("吸烟"), Item("饮酒"), Item("地点"), Item("时间"),
        Item("服药记录卡的填写", MASTERED), Item("服药方法及药品存放", MASTERED), Item("肺结核治疗疗程", MASTERED),
        Item("不规律服药危害", MASTERED), Item("服药后不良反应及处理", MASTERED), Item("治疗期间复诊查痰", MASTERED),
        Item("外出期间如何坚持服药", MASTERED), Item("生活习惯及注意事项", MASTERED), Item("密切接触者检查", MASTERED),
        Item("下次随访日期"), Item("评估医生签名"),
    ],
    # forms-key-populations.md §D2 (4 visit columns; the footer once per sheet)
    "tb_followup": [
        Item("姓名"), Item("编号", boxes=8), Item("随访时间"), Item("治疗月序"), Item("督导人员", SUPERVISORS),
        Item("随访方式", {"1": "门诊", "2": "家庭", "3": "电话"}),
        Item("症状及体征", {"0": "没有症状", "1": "咳嗽咳痰", "2": "低热盗汗", "3": "咯血或血痰", "4": "胸痛消瘦",
                       "5": "恶心纳差", "6": "关节疼痛", "7": "头痛失眠", "8": "视物模糊", "9": "皮肤瘙痒、皮疹",
                       "10": "耳鸣、听力下降", "11": "其他"}, 7),
        Item("吸烟"), Item("饮酒"), Item("化疗方案"), Item("用法", {"1": "每日", "2": "间歇"}),
        Item("药品剂型", DOSAGE_FORMS, 4), Item("漏服药次数"), Item("药物不良反应", NO_YES),
        Item("并发症或合并症", NO_YES), Item("科别"), Item("原因"), Item("2周内随访，随访结果"), Item("处理意见"),
        Item("下次随访时间"), Item("随访医生签名"), Item("出现停止治疗时间"),
        Item("停止治疗原因", {"1": "完成疗程", "2": "死亡", "3": "丢失", "4": "转入耐多药治疗"}),
        Item("应访视患者"), Item("实际访视"), Item("应服药"), Item("实际服药"), Item("服药率"), Item("评估医生签名"),
    ],
}

# Row headings the spec prints that are not items of their own (the items under them are).
HEADINGS = {
    "mental_info": ["既往治疗情况", "住院", "目前诊断情况"],
    "mental_followup": ["如死亡，日期和原因", "社会功能情况", "药物1", "药物2", "药物3"],
    "tb_first_visit": ["用药", "家庭居住环境评估", "生活方式评估", "取药地点、时间", "健康教育及培训"],
    "tb_followup": ["生活方式指导", "用药", "转诊", "停止治疗及原因", "全程管理情况", "患者在疗程中"],
}

CATALOG = load_catalog()
CIRCLED = "①②③④⑤⑥⑦⑧⑨"


def form_text(form_id: str) -> str:
    return compact("".join(page_texts(layout_form(CATALOG.form(form_id)).pdf)))


@pytest.mark.parametrize("form_id", sorted(SPEC))
def test_definition_has_every_spec_item_with_its_codes_and_boxes(form_id):
    fields = CATALOG.form(form_id).fields
    for item in SPEC[form_id]:
        same = [f for f in fields if compact(f.label) == compact(item.label)]
        assert same, f"{form_id}: no field for the spec item {item.label}"
        if item.options is not None:
            assert any(list(f.options) == list(item.options.items()) for f in same), \
                f"{form_id}: {item.label} options differ from the spec: {[dict(f.options) for f in same]}"
        if item.boxes is not None:
            assert any(f.boxes == item.boxes for f in same), f"{form_id}: {item.label} should have {item.boxes} boxes"


@pytest.mark.parametrize("form_id", sorted(SPEC))
def test_every_option_is_printed_with_its_code(form_id):
    """“1城镇 2农村”: the digit a clerk writes in the box stands right before its label (①… for a sub-code)."""
    text = form_text(form_id)
    for field in CATALOG.form(form_id).fields:
        for code, label in field.options:
            printed = [f"{code}{label}", f"{code}．{label}"]
            if code.isdigit() and 0 < int(code) <= len(CIRCLED):
                printed.append(f"{CIRCLED[int(code) - 1]}{label}")
            assert any(compact(p) in text for p in printed), f"{form_id}: {code}{label} ({field.slot}) not printed"
    for heading in HEADINGS.get(form_id, []):
        assert compact(heading) in text, f"{form_id}: row heading {heading} not printed"


# What the register prefills on each page of each form (written out here, not computed by forms/context.py).
PREFILLED = {
    "mental_info": [["欧阳𠮷堃", "20100001"]],
    "mental_followup": [["欧阳𠮷堃", "20100001"]],
    "tb_first_visit": [["欧阳𠮷堃", "20100001"]],
    "tb_followup": [["欧阳𠮷堃", "20100001"]],
}


@pytest.fixture(scope="module")
def printed() -> bytes:
    return print_one(list(PREFILLED))


def test_printed_for_a_resident_every_page_is_a4_with_the_registers_values_on_its_own_form(printed):
    pages = read(printed).pages
    texts = [compact(t) for t in page_texts(printed)]
    assert len(pages) == sum(len(p) for p in PREFILLED.values())
    for page in pages:
        assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(A4_PT, abs=0.01)
    index = 0
    for form_id, per_page in PREFILLED.items():
        title = compact(CATALOG.form(form_id).title)
        for values in per_page:
            assert title in texts[index], f"page {index + 1} is not {form_id}"
            for value in values:
                assert value in texts[index], f"{form_id}: {value} not on its page {index + 1}"
            index += 1
    assert_fonts_embedded_and_subset(printed)


def test_every_printed_page_carries_a_refiling_mark_that_decodes_to_its_form_and_page(printed):
    index = 0
    for form_id, per_page in PREFILLED.items():
        number = CATALOG.form(form_id).number
        for page in range(1, len(per_page) + 1):
            assert decode_barcodes(rasterize(printed, index, 200)) == [refile_code(PERSON["code17"], number, page)]
            index += 1
