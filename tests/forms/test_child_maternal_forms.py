"""The key-population forms (children 0–6, maternal care) against ../shared/spec/forms-key-populations.md §A–§B.

The spec's item lists are written here as literals: every printed item, its option codes in printed order, the visit
columns it is asked in and the columns printed "——" (not examined at that age). test_catalog checks the other way
round (every field's label and options are printed on the page) and the pages against their reference images; here
also the prefilled values on their own form's page, A4, and the re-filing mark of every page.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

import pytest

from archiveprint.errors import InvalidValue
from archiveprint.forms.aliases import check_aliases, load_aliases
from archiveprint.forms.catalog import load_catalog
from archiveprint.forms.context import slot_values
from archiveprint.forms.layout import layout_form
from archiveprint.forms.printer import FormPrinter
from archiveprint.forms.sets import FORM, find_form_set
from archiveprint.forms.stamp import refile_code
from tests.forms.test_catalog import slot_stems
from tests.pdfcheck import A4_PT, compact, decode_barcodes, page_texts, rasterize, read

ALL = (1, 2, 3, 4)


def codes(text: str) -> tuple[tuple[str, str], ...]:
    """'1红润 2黄染 3其他' → (('1', '红润'), ('2', '黄染'), ('3', '其他')), as the spec writes an option list."""
    pairs = []
    for token in text.split():
        digits = len(token) - len(token.lstrip("0123456789"))
        pairs.append((token[:digits], token[digits:]))
    return tuple(pairs)


@dataclass(frozen=True)
class Item:
    """One printed item as the spec lists it. `options` as codes(…), or bare words (上 中 下 have no numbers);
    `columns`: the visit columns it is asked in with these options (visit sheets only)."""

    label: str
    options: str | tuple[str, ...] | None = None
    columns: tuple[int, ...] = ()
    star: bool = False
    boxes: int | None = None


LEVEL = ("上", "中", "下")
NORMAL = "1未见异常 2异常"


@dataclass(frozen=True)
class Spec:
    items: tuple[Item, ...]
    printed: tuple[str, ...] = ()  # row and group labels that are no field's label
    heads: tuple[str, ...] = ()  # the visit columns' heads, in order
    dashes: dict[str, tuple[int, ...]] | None = None  # label → columns printed "——"
    absent: tuple[str, ...] = ()  # labels the form does not print


VISIT_CLOSE = (
    Item("两次随访间患病情况", "1无 2肺炎 3腹泻 4外伤 5其他", ALL), Item("转诊建议", "1无 2有", ALL),
    Item("原因", None, ALL), Item("机构及科室", None, ALL), Item("下次随访日期", None, ALL),
    Item("随访医生签名", None, ALL),
)

SPEC: dict[str, Spec] = {
    # §A1, one visit, code boxes
    "newborn_visit": Spec(
        items=(
            Item("姓名"), Item("编号"), Item("性别", "0未知的性别 1男 2女 9未说明的性别"), Item("出生日期"),
            Item("身份证号"), Item("家庭住址"), Item("职业"), Item("联系电话"), Item("出生孕周"),
            Item("母亲妊娠期患病情况", "1无 2糖尿病 3妊娠期高血压 4其他"), Item("助产机构名称"),
            Item("出生情况", "1顺产 2胎头吸引 3产钳 4剖宫 5双多胎 6臀位 7其他", boxes=2),
            Item("新生儿窒息", "1无 2有"), Item("1分钟"), Item("5分钟"), Item("不详"), Item("畸型", "1无 2有"),
            Item("新生儿听力筛查", "1通过 2未通过 3未筛查 4不详"),
            Item("新生儿疾病筛查", "1未进行 2检查均阴性 3甲低 4苯丙酮尿症 5其他遗传代谢病"),
            Item("新生儿出生体重"), Item("目前体重"), Item("出生身长"), Item("喂养方式", "1纯母乳 2混合 3人工"),
            Item("吃奶量", star=True), Item("吃奶次数", star=True), Item("呕吐", "1无 2有", star=True),
            Item("大便", "1糊状 2稀 3其他", star=True), Item("大便次数", star=True), Item("体温"), Item("心率"),
            Item("呼吸频率"), Item("面色", "1红润 2黄染 3其他"), Item("黄疸部位", "1无 2面部 3躯干 4四肢 5手足"),
            Item("前囟", "1正常 2膨隆 3凹陷 4其他"),
            *(Item(label, NORMAL) for label in ("眼睛", "四肢活动度", "耳外观", "鼻", "口腔", "肛门", "心肺听诊",
                                                "胸部", "腹部触诊", "外生殖器", "脊柱")),
            Item("颈部包块", "1无 2有"), Item("皮肤", "1未见异常 2湿疹 3糜烂 4其他"),
            Item("脐带", "1未脱 2脱落 3脐部有渗出 4其他"), Item("转诊建议", "1无 2有"), Item("原因"),
            Item("机构及科室"),
            Item("指导", "1喂养指导 2发育指导 3防病指导 4预防伤害指导 5口腔保健指导 6其他", boxes=5),
            Item("本次访视日期"), Item("下次随访地点"), Item("下次随访日期"), Item("随访医生签名"),
        ),
        printed=("父亲", "母亲", "Apgar评分"),
    ),
    # §A2, four visits, ticks
    "child_1_8m": Spec(
        items=(
            Item("随访日期", None, ALL), Item("体重（kg）", LEVEL, ALL), Item("身长（cm）", LEVEL, ALL),
            Item("头围（cm）", None, ALL), Item("面色", "1红润 2黄染 3其他", (1, 2)),
            Item("面色", "1红润 2其他", (3, 4)),
            Item("皮肤", NORMAL, ALL), Item("前囟", "1闭合 2未闭", ALL), Item("颈部包块", "1有 2无", (1, 2, 3)),
            Item("眼睛", NORMAL, ALL), Item("耳", NORMAL, ALL), Item("听力", "1通过 2未通过", (3,)),
            Item("口腔", NORMAL, (1, 2)), Item("出牙数（颗）", None, (3, 4)), Item("胸部", NORMAL, ALL),
            Item("腹部", NORMAL, ALL), Item("脐部", "1未脱 2脱落 3脐部有渗出 4其他", (1,)), Item("脐部", NORMAL, (2,)),
            Item("四肢", NORMAL, ALL), Item("可疑佝偻病症状", "1无 2夜惊 3多汗 4烦躁", (2, 3, 4)),
            Item("可疑佝偻病体征", "1无 2颅骨软化", (2,)),
            Item("可疑佝偻病体征", "1无 2肋串珠 3肋软骨沟 4鸡胸 5手足镯 6颅骨软化 7方颅", (3, 4)),
            Item("肛门/外生殖器", NORMAL, ALL), Item("血红蛋白值", None, (3, 4)), Item("户外活动", None, ALL),
            Item("服用维生素D", None, ALL),
            Item("发育评估",
                 "1对很大声音没有反应 2逗引时不发音或不会微笑 3不注视人脸，不追视移动人或物品 4俯卧时不会抬头", (2,)),
            Item("发育评估", "1发音少，不会笑出声 2不会伸手抓物 3紧握拳松不开 4不能扶坐", (3,)),
            Item("发育评估", "1听到声音无应答 2不会区分生人和熟人 3双手间不会传递玩具 4不会独坐", (4,)),
            *VISIT_CLOSE, Item("指导", "1科学喂养 2生长发育 3疾病预防 4预防伤害 5口腔保健 6其他", ALL),
        ),
        printed=("月龄", "体格检查"),
        heads=("满月", "3月龄", "6月龄", "8月龄"),
        dashes={"颈部包块": (4,), "听力": (1, 2, 4), "脐部": (3, 4), "可疑佝偻病症状": (1,), "可疑佝偻病体征": (1,),
                "血红蛋白值": (1, 2), "发育评估": (1,)},
    ),
    # §A3
    "child_12_30m": Spec(
        items=(
            Item("随访日期", None, ALL), Item("体重（kg）", LEVEL, ALL), Item("身长（cm）", LEVEL, ALL),
            Item("面色", "1红润 2其他", ALL), Item("皮肤", NORMAL, ALL), Item("前囟", "1闭合 2未闭", (1, 2, 3)),
            Item("眼睛", NORMAL, ALL), Item("耳外观", NORMAL, ALL), Item("听力", "1通过 2未通过", (1, 3)),
            Item("出牙/龋齿数（颗）", None, ALL), Item("胸部", NORMAL, ALL), Item("腹部", NORMAL, ALL),
            Item("四肢", NORMAL, ALL), Item("步态", NORMAL, (2, 3, 4)),
            Item("可疑佝偻病体征", '1无 2肋串珠 3肋软骨沟 4鸡胸 5手足镯 6"O"型腿 7"X"型腿', (1, 2, 3)),
            Item("血红蛋白值", None, (2, 4)), Item("户外活动", None, ALL), Item("服用维生素D", None, (1, 2, 3)),
            Item("发育评估", "1呼唤名字无反应 2不会模仿“再见”或“欢迎”动作 3不会用拇食指对捏小物品 4不会扶物站立", (1,)),
            Item("发育评估", "1不会有意识叫“爸爸”或“妈妈” 2不会按要求指人或物 3与人无目光交流 4不会独走", (2,)),
            Item("发育评估", "1不会说3个物品的名称 2不会按吩咐做简单事情 3不会用勺吃饭 4不会扶栏上楼梯/台阶", (3,)),
            Item("发育评估", "1不会说2～3个字的短语 2兴趣单一、刻板 3不会示意大小便 4不会跑", (4,)),
            *VISIT_CLOSE, Item("指导", "1科学喂养 2生长发育 3疾病预防 4预防伤害 5口腔保健 6其他", ALL),
        ),
        printed=("月龄", "体格检查"),
        heads=("12月龄", "18月龄", "24月龄", "30月龄"),
        dashes={"前囟": (4,), "听力": (2, 4), "步态": (1,), "可疑佝偻病体征": (4,), "血红蛋白值": (1, 3),
                "服用维生素D": (4,)},
    ),
    # §A4
    "child_3_6y": Spec(
        items=(
            Item("随访日期", None, ALL), Item("体重（kg）", LEVEL, ALL), Item("身高（cm）", LEVEL, ALL),
            Item("体重/身高", LEVEL, ALL), Item("体格发育评价", "1正常 2低体重 3消瘦 4生长迟缓 5超重", ALL),
            Item("视力", None, (2, 3, 4)), Item("听力", "1通过 2未过", (1,)), Item("牙数（颗）/龋齿数", None, ALL),
            Item("胸部", NORMAL, ALL), Item("腹部", NORMAL, ALL), Item("血红蛋白值", None, ALL, star=True),
            Item("其他", None, ALL),
            Item("发育评估", "1不会说自己的名字 2不会玩“拿棍当马骑”等假想游戏 3不会模仿画圆 4不会双脚跳", (1,)),
            Item("发育评估", "1不会说带形容词的句子 2不能按要求等待或轮流 3不会独立穿衣 4不会单脚站立", (2,)),
            Item("发育评估", "1不能简单叙说事情经过 2不知道自己的性别 3不会用筷子吃饭 4不会单脚跳", (3,)),
            Item("发育评估", "1不会表达自己的感受或想法 2不会玩角色扮演的集体游戏 3不会画方形 4不会奔跑", (4,)),
            *VISIT_CLOSE, Item("指导", "1合理膳食 2生长发育 3疾病预防 4预防伤害 5口腔保健 6其他", ALL),
        ),
        printed=("体格检查",),
        heads=("3岁", "4岁", "5岁", "6岁"),
        dashes={"视力": (1,), "听力": (2, 3, 4)},
    ),
    # §A5: the chart is drawn, the doctor plots; the header and the axes are what is printed
    **{form_id: Spec(items=(Item("姓名"), Item("编号"), Item("出生日期")),
                     printed=("月龄", "身长/身高（cm）", "体重（kg）", "P3", "P15", "P50", "P85", "P97"))
       for form_id in ("growth_chart_boys", "growth_chart_girls")},
    # §B1, one visit, code boxes
    "prenatal_first": Spec(
        items=(
            Item("姓名"), Item("编号"), Item("填表日期"), Item("孕周"), Item("孕妇年龄"), Item("丈夫姓名"),
            Item("丈夫年龄"), Item("丈夫电话"), Item("孕次"), Item("阴道分娩"), Item("剖宫产"), Item("末次月经"),
            Item("预产期"), Item("既往史", "1无 2心脏病 3肾脏疾病 4肝脏疾病 5高血压 6贫血 7糖尿病 8其他", boxes=7),
            Item("家族史", "1遗传性疾病史 2精神疾病史 3其他", boxes=3),
            Item("个人史", "1无特殊 2吸烟 3饮酒 4服用药物 5接触有毒有害物质 6接触放射线 7其他", boxes=3),
            Item("妇产科手术史", "1无 2有"),
            *(Item(label) for label in ("自然流产", "人工流产", "死胎", "死产", "新生儿死亡", "出生缺陷儿", "身高",
                                        "体重", "体质指数（BMI）", "血压")),
            *(Item(label, NORMAL) for label in ("心脏", "肺部", "外阴", "阴道", "宫颈", "子宫", "附件")),
            *(Item(label) for label in ("血红蛋白值", "白细胞计数值", "血小板计数值", "尿蛋白", "尿糖", "尿酮体",
                                        "尿潜血", "ABO", "血清谷丙转氨酶", "血清谷草转氨酶", "白蛋白", "总胆红素",
                                        "结合胆红素", "血清肌酐", "血尿素", "乙型肝炎表面抗原")),
            Item("Rh", star=True), Item("血糖", star=True),
            Item("阴道分泌物", "1未见异常 2滴虫 3假丝酵母菌 4其他", star=True, boxes=3),
            Item("阴道清洁度", "1Ⅰ度 2Ⅱ度 3Ⅲ度 4Ⅳ度"),
            *(Item(label, star=True) for label in ("乙型肝炎表面抗体", "乙型肝炎e抗原", "乙型肝炎e抗体",
                                                   "乙型肝炎核心抗体", "B超", "其他")),
            Item("梅毒血清学试验", "1阴性 2阳性", star=True), Item("HIV抗体检测", "1阴性 2阳性", star=True),
            Item("总体评估", "1未见异常 2异常"),
            Item("保健指导", "1生活方式 2心理 3营养 4避免致畸因素和疾病对胚胎的不良影响 5产前筛查宣传告知 6其他",
                 boxes=5),
            Item("转诊", "1无 2有"), Item("原因"), Item("机构及科室"), Item("下次随访日期"), Item("随访医生签名"),
        ),
        printed=("产次", "孕产史", "听诊", "妇科检查", "辅助检查", "血常规", "尿常规", "血型", "肝功能", "肾功能",
                 "乙型肝炎五项"),
    ),
    # §B2, four visits, code boxes
    "prenatal_followup": Spec(
        items=(
            *(Item(label, None, ALL) for label in ("（随访/督促）日期", "孕周（周）", "主诉", "体重（kg）",
                                                   "宫底高度（cm）", "腹围（cm）", "胎位", "胎心率（次/分钟）",
                                                   "血压（mmHg）", "血红蛋白（g/L）", "尿蛋白")),
            Item("其他辅助检查", None, ALL, star=True), Item("分类", "1未见异常 2异常", ALL),
            Item("指导", "1生活方式 2营养 3心理 4运动 5其他", (1,)),
            Item("指导", "1生活方式 2营养 3心理 4运动 5自我监护 6母乳喂养 7其他", (2,)),
            Item("指导", "1生活方式 2营养 3心理 4运动 5自我监测 6分娩准备 7母乳喂养 8其他", (3, 4)),
            Item("转诊", "1无 2有", ALL), Item("原因", None, ALL), Item("机构及科室", None, ALL),
            Item("下次随访日期", None, ALL), Item("随访医生签名", None, ALL),
        ),
        printed=("项目", "产科检查"),
        heads=("第2次", "第3次", "第4次", "第5次"),
    ),
    # §B3
    "postpartum_visit": Spec(
        items=(
            *(Item(label) for label in ("姓名", "编号", "随访日期", "分娩日期", "出院日期", "体温", "一般健康情况",
                                        "一般心理状况", "血压")),
            *(Item(label, NORMAL) for label in ("乳房", "恶露", "子宫", "伤口")),
            Item("其他"), Item("分类", "1未见异常 2异常"),
            Item("指导", "1个人卫生 2心理 3营养 4母乳喂养 5新生儿护理与喂养 6其他"), Item("转诊", "1无 2有"),
            Item("原因"), Item("机构及科室"), Item("下次随访日期"), Item("随访医生签名"),
        ),
    ),
    # §B4: the case closes here, so no 体温 and no 下次随访日期
    "postpartum_42d": Spec(
        items=(
            *(Item(label) for label in ("姓名", "编号", "随访日期", "分娩日期", "出院日期", "一般健康情况",
                                        "一般心理状况", "血压")),
            *(Item(label, NORMAL) for label in ("乳房", "恶露", "子宫", "伤口")),
            Item("其他"), Item("分类", "1已恢复 2未恢复"),
            Item("指导", "1心理保健 2性保健与避孕 3婴儿喂养 4产妇营养 5其他"),
            Item("处理", "1结案 2转诊"), Item("原因"), Item("机构及科室"), Item("随访医生签名"),
        ),
        absent=("体温", "下次随访日期"),
    ),
}
CATALOG = load_catalog()


def matches(field, item: Item) -> bool:  # type: ignore[no-untyped-def]
    if compact(field.label) != compact(item.label):
        return False
    if isinstance(item.options, str):
        return field.options == codes(item.options)
    if isinstance(item.options, tuple):
        return tuple(label for _, label in field.options) == item.options
    return True


def column_stems(slot_names: set[str], column: int) -> set[str]:
    """The field stems that have a slot in visit column n (slots v<n>.<stem>…)."""
    return slot_stems({name for name in slot_names if name.startswith(f"v{column}.")})


@pytest.mark.parametrize("form_id", sorted(SPEC))
def test_definition_has_every_spec_item_with_its_codes_in_its_columns(form_id):
    form, spec = CATALOG.form(form_id), SPEC[form_id]
    names = layout_form(form).slot_names
    assert not {compact(f.label) for f in form.fields} & {compact(label) for label in spec.absent}
    for item in spec.items:
        fields = [f for f in form.fields if matches(f, item)]
        assert fields, f"{form_id}: no field {item.label} {item.options or ''}"
        if item.star:
            assert any(f.star for f in fields), f"{form_id}: {item.label} is not starred"
        if item.boxes is not None:
            assert [f.boxes for f in fields] == [item.boxes], f"{form_id}: {item.label} box count"
        for column in item.columns:
            assert column_stems(names, column) & {f.slot for f in fields}, \
                f"{form_id}: {item.label} {item.options or ''} is not in visit column {column}"


@pytest.mark.parametrize("form_id", sorted(SPEC))
def test_visit_heads_group_labels_and_not_examined_dashes_are_printed(form_id):
    form, spec = CATALOG.form(form_id), SPEC[form_id]
    layout = layout_form(form)
    text = compact(page_texts(layout.pdf)[0])
    for label in spec.printed:
        assert compact(label) in text, f"{form_id}: {label} is not printed"
    start = text.find("编号")  # after the title (12～30月龄… holds a head)
    positions = [text.find(head, start) for head in spec.heads]
    assert -1 not in positions and positions == sorted(positions), f"{form_id}: visit heads {spec.heads}"
    dashes = spec.dashes or {}
    assert text.count("——") == sum(len(columns) for columns in dashes.values())
    for label, columns in dashes.items():
        stems = {f.slot for f in form.fields if compact(f.label) == compact(label)}
        assert stems, f"{form_id}: no field {label}"
        for column in columns:
            assert not column_stems(layout.slot_names, column) & stems, f"{form_id}: {label} asked in column {column}"


PERSON = {"name": "欧阳𠮷堃", "code17": "13012310020100031", "code8": "20100031", "sex": "2",
          "birth_date": date(2026, 3, 10), "id_number": "13012320260310002X", "phone": "13800138000",
          "address": "东关村3组17号", "age": "29"}
PREFILLED = {  # form → values the register puts on it (written here, not computed by forms/context.py)
    "newborn_visit": ["欧阳𠮷堃", "20100031", "20260310", "13012320260310002X", "东关村3组17号"],
    "child_1_8m": ["欧阳𠮷堃", "20100031"],
    "child_12_30m": ["欧阳𠮷堃", "20100031"],
    "child_3_6y": ["欧阳𠮷堃", "20100031"],
    "growth_chart_boys": ["欧阳𠮷堃", "20100031", "2026", "03", "10"],  # 出生日期 as 年/月/日
    "growth_chart_girls": ["欧阳𠮷堃", "20100031", "2026", "03", "10"],
    "prenatal_first": ["欧阳𠮷堃", "20100031", "29"],  # 孕妇年龄 from the register's birth date
    "prenatal_followup": ["欧阳𠮷堃", "20100031"],
    "postpartum_visit": ["欧阳𠮷堃", "20100031"],
    "postpartum_42d": ["欧阳𠮷堃", "20100031"],
}


def test_prefilled_pages_are_a4_with_the_register_values_and_a_refiling_mark_that_decodes():
    buffer = io.BytesIO()
    printer = FormPrinter(buffer)
    forms = [CATALOG.form(form_id) for form_id in PREFILLED]
    for form in forms:
        printer.add_form(form, slot_values(form, PERSON), code17=PERSON["code17"])
    printer.close(title="test")
    pdf = buffer.getvalue()
    pages = read(pdf).pages
    assert len(pages) == sum(form.pages for form in forms)
    texts = [compact(text) for text in page_texts(pdf)]
    index = 0
    for form in forms:
        for number in range(1, form.pages + 1):
            page = pages[index]
            assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(A4_PT, abs=0.01)
            assert decode_barcodes(rasterize(pdf, index, 200)) == [refile_code(PERSON["code17"], form.number, number)]
            index += 1
        form_text = "".join(texts[index - form.pages:index])
        for value in PREFILLED[form.id]:
            assert value in form_text, f"{form.id}: {value} not printed"
        assert form.title in form_text


def test_the_2011_titles_name_the_renamed_forms(session):
    aliases = load_aliases()
    check_aliases(CATALOG, aliases)
    assert aliases["1岁以内儿童健康检查记录表"] == "child_1_8m"
    assert aliases["1～2岁儿童健康检查记录表"] == "child_12_30m"
    assert aliases["第1次产前随访服务记录表"] == "prenatal_first"
    assert find_form_set(session, "1岁以内儿童健康检查记录表", kind=FORM).forms == ("child_1_8m",)
    assert find_form_set(session, "1～2岁儿童健康检查记录表").forms == ("child_12_30m",)
    with pytest.raises(InvalidValue, match="不存在的表单"):
        check_aliases(CATALOG, {"旧表": "no_such_form"})
    with pytest.raises(InvalidValue, match="重名"):
        check_aliases(CATALOG, {"个人基本信息表": "child_1_8m"})


def test_the_key_population_sets_print_their_forms_in_order():
    assert CATALOG.form_set("新生儿访视").forms == ("newborn_visit",)
    assert CATALOG.form_set("儿童健康检查").forms == ("child_1_8m", "child_12_30m", "child_3_6y", "growth_chart_boys",
                                                     "growth_chart_girls")
    assert CATALOG.form_set("孕产妇").forms == ("prenatal_first", "prenatal_followup", "postpartum_visit",
                                              "postpartum_42d")


def test_the_form_numbers_of_children_and_maternal_forms_are_20_to_39():
    assert all(20 <= CATALOG.form(form_id).number <= 39 for form_id in SPEC)


def variants() -> list[tuple[str, str, str]]:
    """(form, field, variant) for every reading form.yaml offers where the sources disagree."""
    import yaml

    found = []
    for form_id in sorted(SPEC):
        raw = yaml.safe_load((CATALOG.form(form_id).folder / "form.yaml").read_text(encoding="utf-8"))
        found += [(form_id, f["slot"], name) for f in raw["fields"] for name in (f.get("variants") or {})]
    return found


@pytest.mark.parametrize(("form_id", "slot", "variant"), variants())
def test_a_site_variant_lays_out_on_the_forms_pages_and_prints_its_reading(form_id, slot, variant, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path))
    (tmp_path / "form_variants.yaml").write_text(f"{form_id}: {{{slot}: '{variant}'}}\n", encoding="utf-8")
    form = load_catalog().form(form_id)
    default = CATALOG.form(form_id).field(slot)
    assert form.field(slot) != default
    layout = layout_form(form)
    assert len(layout.pages) == form.pages
    text = compact("".join(page_texts(layout.pdf)))
    field = form.field(slot)
    assert all(compact(label) in text for _, label in field.options)
    places = {name: slots for page in layout.pages for name, slots in page.slots.items() if slot in slot_stems({name})}
    if field.kind == "check":  # one tick slot per option code
        assert {name.rsplit(".", 1)[1] for name in places} == {code for code, _ in field.options}
        assert {s.kind for slots in places.values() for s in slots} == {"tick"}
    else:
        assert {len(slots) for slots in places.values()} == {field.boxes}
