"""The key-population forms of issue #12 (严重精神障碍, 肺结核, 中医药, 预防接种卡): each definition against the spec's
item list and option codes (../shared/spec/forms-key-populations.md §C–F and forms.md §6.11–6.12, written out here
as literals, so a definition cannot drift from the spec unnoticed), the codes printed beside their options, and
each form printed for a resident: A4 pages, the register's values on the form's own pages, a re-filing mark that
decodes on every page."""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest

from archiveprint.forms.catalog import load_catalog
from archiveprint.forms.layout import layout_form
from archiveprint.forms.preview import plan_print
from archiveprint.forms.services import PrintOptions, print_forms, resolve_scope
from archiveprint.forms.stamp import refile_code
from tests.conftest import TODAY
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
SCALE = {"1": "没有（根本不/从来没有）", "2": "很少（有一点/偶尔）", "3": "有时（有些/少数时间）",
         "4": "经常（相当/多数时间）", "5": "总是（非常/每天）"}
CONSTITUTIONS = ["气虚质", "阳虚质", "阴虚质", "痰湿质", "湿热质", "血瘀质", "气郁质", "特禀质", "平和质"]
GUIDANCE = {"1": "情志调摄", "2": "饮食调养", "3": "起居调摄", "4": "运动保健", "5": "穴位保健", "6": "其他"}
CHILD_TCM = {  # 中医药健康管理服务 by age: option 3 differs
    "6, 12": {"1": "中医饮食调养指导", "2": "中医起居调摄指导", "3": "传授摩腹、捏脊方法", "4": "其他"},
    "18, 24": {"1": "中医饮食调养指导", "2": "中医起居调摄指导", "3": "传授按揉迎香穴、足三里穴方法", "4": "其他"},
    "30, 36": {"1": "中医饮食调养指导", "2": "中医起居调摄指导", "3": "传授按揉四神聪穴方法", "4": "其他"},
}
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
    # forms-key-populations.md §E1 (the 33 questions are checked one by one below)
    "elderly_tcm": [
        Item("姓名"), Item("编号", boxes=8),
        *(Item(name, {"2": "是", "3": "倾向是"}) for name in CONSTITUTIONS[:-1]),
        Item("平和质", {"2": "是", "3": "基本是"}), Item("得分"), Item("中医药保健指导", GUIDANCE),
        Item("填表日期"), Item("医生签名"),
    ],
    # forms-key-populations.md §E2
    "child_tcm_6_18": [
        Item("姓名"), Item("编号", boxes=8), Item("随访日期"), Item("中医药健康管理服务", CHILD_TCM["6, 12"]),
        Item("中医药健康管理服务", CHILD_TCM["18, 24"]), Item("下次随访日期"), Item("随访医生签名"),
    ],
    "child_tcm_24_36": [
        Item("姓名"), Item("编号", boxes=8), Item("随访日期"), Item("中医药健康管理服务", CHILD_TCM["18, 24"]),
        Item("中医药健康管理服务", CHILD_TCM["30, 36"]), Item("下次随访日期"), Item("随访医生签名"),
    ],
    # forms-key-populations.md §F (front 基本资料, back 接种记录 with the 2016 columns)
    "vaccination_card": [
        Item("儿童编码"), Item("身份证号"), Item("出生证号"), Item("儿童姓名"), Item("性别"), Item("出生日期"),
        Item("出生医院"), Item("出生体重"), Item("监护人姓名"), Item("与儿童关系"), Item("联系电话"), Item("家庭住址"),
        Item("户籍地址"), Item("预防接种异常反应史"), Item("接种禁忌"), Item("传染病史"), Item("迁入时间"),
        Item("迁出时间"), Item("迁出原因"), Item("建卡日期"), Item("建卡人"), Item("接种日期"), Item("接种部位"),
        Item("疫苗批号"), Item("疫苗有效期"), Item("生产企业"), Item("接种人员"), Item("备注"),
    ],
}

# Row headings the spec prints that are not items of their own (the items under them are).
HEADINGS = {
    "mental_info": ["既往治疗情况", "住院", "目前诊断情况"],
    "mental_followup": ["如死亡，日期和原因", "社会功能情况", "药物1", "药物2", "药物3"],
    "tb_first_visit": ["用药", "家庭居住环境评估", "生活方式评估", "取药地点、时间", "健康教育及培训"],
    "tb_followup": ["生活方式指导", "用药", "转诊", "停止治疗及原因", "全程管理情况", "患者在疗程中"],
    "elderly_tcm": ["请根据近一年的体验和感觉，回答以下问题", "体质辨识", "1．得分"],
    "child_tcm_6_18": ["月龄", "6月龄", "12月龄", "18月龄"],
    "child_tcm_24_36": ["月龄", "24月龄", "30月龄", "36月龄"],
    "vaccination_card": ["儿童基本资料", "时", "千克", "省", "市", "县", "乡（镇、街道）", "村（居委会）",
                         "预防接种记录", "疫苗与剂次", *(f"{name}{doses}" for name, doses in [
                             ("乙肝疫苗", "123"), ("卡介苗", ""), ("脊灰疫苗", "1234"), ("百白破疫苗", "1234"),
                             ("白破疫苗", ""), ("麻风疫苗", ""), ("麻腮风疫苗", "12"), ("A群流脑多糖疫苗", "12"),
                             ("A群C群流脑多糖疫苗", "12"), ("乙脑减毒活疫苗", "12"), ("乙脑灭活疫苗", "1234"),
                             ("甲肝减毒活疫苗", ""), ("甲肝灭活疫苗", "12")])],
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
        if form_id == "elderly_tcm" and re.fullmatch(r"q\d+", field.slot):
            continue  # the scale is printed once as column headings: test_tcm_questions_... checks every row
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
    "elderly_tcm": [["欧阳𠮷堃", "20100001"], ["欧阳𠮷堃", "20100001"]],  # page 2 repeats 姓名 and 编号
    "child_tcm_6_18": [["欧阳𠮷堃", "20100001"]],
    "child_tcm_24_36": [["欧阳𠮷堃", "20100001"]],
    # the card: 儿童姓名, 性别, 出生日期 as 年/月/日, 身份证号, 联系电话 on its front; nothing on the record side
    "vaccination_card": [["欧阳𠮷堃", "男", "1956", "03", "07", "11010519491231002X", "13800138000"], []],
}


@pytest.fixture(scope="module")
def printed() -> bytes:
    return print_one(list(PREFILLED), {**PERSON, "sex_text": "男"})


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


# forms-key-populations.md §E1: the 33 questions word for word, and the four with a scale of their own.
QUESTIONS = [
    "您精力充沛吗？（指精神头足，乐于做事）",
    "您容易疲乏吗？（指体力如何，是否稍微活动一下或做一点家务劳动就感到累）",
    "您容易气短，呼吸短促，接不上气吗？",
    "您说话声音低弱无力吗？（指说话没有力气）",
    "您感到闷闷不乐、情绪低沉吗？（指心情不愉快，情绪低落）",
    "您容易精神紧张、焦虑不安吗？（指遇事是否心情紧张）",
    "您因为生活状态改变而感到孤独、失落吗？",
    "您容易感到害怕或受到惊吓吗？",
    "您感到身体超重不轻松吗？（感觉身体沉重）［BMI指数＝体重（kg）/身高²（m）］",
    "您眼睛干涩吗？",
    "您手脚发凉吗？（不包含因周围温度低或穿的少导致的手脚发冷）",
    "您胃脘部、背部或腰膝部怕冷吗？（指上腹部、背部、腰部或膝关节等，有一处或多处怕冷）",
    "您比一般人耐受不了寒冷吗？（指比别人容易害怕冬天或是夏天的冷空调、电扇等）",
    "您容易患感冒吗？（指每年感冒的次数）",
    "您没有感冒时也会鼻塞、流鼻涕吗？",
    "您有口粘口腻，或睡眠打鼾吗？",
    "您容易过敏（对药物、食物、气味、花粉或在季节交替、气候变化时）吗？",
    "您的皮肤容易起荨麻疹吗？（包括风团、风疹块、风疙瘩）",
    "您的皮肤在不知不觉中会出现青紫瘀斑、皮下出血吗？（指皮肤在没有外伤的情况下出现青一块紫一块的情况）",
    "您的皮肤一抓就红，并出现抓痕吗？（指被指甲或钝物划过后皮肤的反应）",
    "您皮肤或口唇干吗？",
    "您有肢体麻木或固定部位疼痛的感觉吗？",
    "您面部或鼻部有油腻感或者油亮发光吗？（指脸上或鼻子）",
    "您面色或目眶晦黯，或出现褐色斑块/斑点吗？",
    "您有皮肤湿疹、疮疖吗？",
    "您感到口干咽燥、总想喝水吗？",
    "您感到口苦或嘴里有异味吗？（指口苦或口臭）",
    "您腹部肥大吗？（指腹部脂肪肥厚）",
    "您吃（喝）凉的东西会感到不舒服或者怕吃（喝）凉的东西吗？（指不喜欢吃凉的食物，或吃了凉的食物后会不舒服）",
    "您有大便黏滞不爽、解不尽的感觉吗？（大便容易粘在马桶或便坑壁上）",
    "您容易大便干燥吗？",
    "您舌苔厚腻或有舌苔厚厚的感觉吗？（如果自我感觉不清楚可由调查员观察后填写）",
    "您舌下静脉瘀紫或增粗吗？（可由调查员辅助观察后填写）",
]
OWN_SCALES = {
    9: {"1": "(BMI＜24)", "2": "(24≤BMI＜25)", "3": "(25≤BMI＜26)", "4": "(26≤BMI＜28)", "5": "(BMI≥28)"},
    14: {"1": "一年＜2次", "2": "一年感冒2-4次", "3": "一年感冒5-6次", "4": "一年8次以上", "5": "几乎每月都感冒"},
    17: {"1": "从来没有", "2": "一年1、2次", "3": "一年3、4次", "4": "一年5、6次", "5": "每次遇到上述原因都过敏"},
    28: {"1": "（腹围＜80cm，相当于2.4尺）", "2": "（腹围80～85cm，2.4～2.55尺）", "3": "（腹围86～90cm，2.56～2.7尺）",
         "4": "（腹围91～105cm，2.71～3.15尺）", "5": "（腹围＞105cm或3.15尺）"},
}


def test_tcm_questions_are_the_33_of_the_spec_each_printed_with_its_scores_to_tick():
    form = CATALOG.form("elderly_tcm")
    layout = layout_form(form)
    questions = [f for f in form.fields if re.fullmatch(r"q\d+", f.slot)]
    assert [f.label for f in questions] == QUESTIONS
    assert [f.slot for f in questions] == [f"q{n}" for n in range(1, 34)]
    text = form_text("elderly_tcm")
    for heading in SCALE.values():
        assert compact(heading) in text
    for n, field in enumerate(questions, start=1):
        scale = OWN_SCALES.get(n, SCALE)
        assert field.kind == "check" and dict(field.options) == scale, f"question {n}: {dict(field.options)}"
        # the row as printed: （n）question, then each score number (with the question's own scale under it)
        scores = "".join(code + (label if n in OWN_SCALES else "") for code, label in scale.items())
        assert compact(f"（{n}）{QUESTIONS[n - 1]}{scores}") in text, f"question {n} is not printed as a row"
        for code in scale:  # the number itself is the place to tick, on the page of its question
            page, = (p for p in layout.pages if f"q{n}.{code}" in p.slots)
            assert page.number == (1 if n <= 19 else 2) and page.slots[f"q{n}.{code}"][0].kind == "tick"


def test_tcm_result_has_the_nine_types_in_order_with_result_and_guidance_to_tick():
    form = CATALOG.form("elderly_tcm")
    text = form_text("elderly_tcm")
    assert compact("体质类型" + "".join(CONSTITUTIONS)) in text
    types = [f for f in form.fields if f.label in CONSTITUTIONS]
    assert [f.label for f in types] == CONSTITUTIONS
    slots = layout_form(form).pages[1].slots
    for field in types:
        assert f"{field.slot}_score" in slots and f"{field.slot}_guide_text" in slots
        assert all(slots[f"{field.slot}.{code}"][0].kind == "tick" for code, _ in field.options)
        guide = form.field(f"{field.slot}_guide")
        assert dict(guide.options) == GUIDANCE
        assert all(slots[f"{guide.slot}.{code}"][0].kind == "tick" for code in GUIDANCE)
    assert compact("1．得分2．是3．倾向是") in text and compact("1．得分2．是3．基本是") in text


VARIANTS = {  # form: ({field: variant}, printed with it, printed without it)
    "mental_info": ({"consent": "community"}, ["1同意参加社区服务管理"], ["1同意参加管理"]),
    "mental_followup": ({"lost_reason": "dagong", "death_body": "zzr", "drug_dose": "free", "guide_dose": "free"},
                        ["1外出打工", "⑨不详"], ["1外出务工", "⑧不详", "mg"]),
    "tb_first_visit": ({"date": "kst"}, ["随访日期"], ["随访时间"]),
    "elderly_tcm": ({"q14": "monthly"}, ["5几乎每月"], ["几乎每月都感冒"]),
}


@pytest.mark.parametrize("form_id", sorted(VARIANTS))
def test_a_site_variant_prints_the_other_reading(form_id, tmp_path, monkeypatch):
    chosen, present, absent = VARIANTS[form_id]
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path))
    (tmp_path / "form_variants.yaml").write_text(
        f"{form_id}: {{{', '.join(f'{k}: {v}' for k, v in chosen.items())}}}\n", encoding="utf-8")
    text = compact("".join(page_texts(layout_form(load_catalog().form(form_id)).pdf)))
    assert all(compact(p) in text for p in present) and not any(compact(a) in text for a in absent)


def test_children_tcm_service_is_ticked_by_default_and_boxes_as_a_site_variant(tmp_path, monkeypatch):
    """The 3rd-edition sheets are ticked on the number [medium]; a site whose sheets carry boxes picks `boxes`."""
    ticked = layout_form(CATALOG.form("child_tcm_6_18")).pages[0].slots
    assert [ticked[f"v{n}.service_a.3"][0].kind for n in (1, 2)] == ["tick", "tick"] and "v3.service_b.3" in ticked
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path))
    (tmp_path / "form_variants.yaml").write_text("child_tcm_6_18: {service_a: boxes, service_b: boxes}\n",
                                                 encoding="utf-8")
    boxed = layout_form(load_catalog().form("child_tcm_6_18")).pages[0].slots
    assert [len(boxed[f"v{n}.{s}"]) for n, s in ((1, "service_a"), (2, "service_a"), (3, "service_b"))] == [4, 4, 4]
    assert not any(name.startswith("v1.service_a.") for name in boxed)


SETS = {  # the key-population sets, their forms in folder order
    "mental": ["mental_info", "mental_followup"],
    "tuberculosis": ["tb_first_visit", "tb_followup"],
    "elderly_annual": ["health_check", "elderly_selfcare", "elderly_tcm"],
    "child_tcm": ["child_tcm_6_18", "child_tcm_24_36"],
}


@pytest.mark.parametrize("set_id", sorted(SETS))
def test_a_key_population_set_prints_its_forms_in_order_for_a_village(session, create_household, create_resident,
                                                                      tmp_path, set_id):
    form_set = CATALOG.form_set(set_id)
    assert list(form_set.forms) == SETS[set_id]
    household = create_household("201", head_name="赵德明")
    create_resident(household, name="赵德明")
    create_resident(household, name="赵小雨", relation_to_head="女", sex="2")
    scope = resolve_scope(session, village="201")
    result = print_forms(session, form_set, scope, tmp_path / "s.pdf", today=TODAY)
    assert result.pages == plan_print(session, form_set, scope, PrintOptions()).pages
    # every page's re-filing mark names its form and page: "… · 健康体检表 · 第2/4页"
    marks = [f"·{compact(CATALOG.form(f).title)}·第{n}/{CATALOG.form(f).pages}页"
             for f in SETS[set_id] for n in range(1, CATALOG.form(f).pages + 1)]
    texts = [compact(t) for t in page_texts(tmp_path / "s.pdf")]
    assert len(texts) == 2 * len(marks)
    for person, pages in (("赵德明", texts[:len(marks)]), ("赵小雨", texts[len(marks):])):
        assert all(person in text and mark in text for text, mark in zip(pages, marks, strict=True))
