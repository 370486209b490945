"""The streaming PDF writer itself, read back by readers that are not pypdf: qpdf (check and JSON) and pdfium.

Every printer (forms, labels, lending receipts) writes through pdf.writer.PdfStream; pypdf repairs a damaged file
without a word, so these tests read the bytes the way a strict printer's interpreter does (#16.1).
"""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import zlib
from pathlib import Path

import pypdf
import pypdfium2
import pytest

from archiveprint.pdf.fonts import EmbeddedFont, font_path, load_metrics
from archiveprint.pdf.weasy import render
from archiveprint.pdf.writer import PAGES_PER_NODE, PdfStream, array, dictionary, literal, name, num, ref
from tests.pdfcheck import check_structure, compact


def _qpdf_json(data: bytes, tmp_path: Path) -> dict:
    path = tmp_path / "read.pdf"
    path.write_bytes(data)
    out = subprocess.run(["qpdf", "--json=2", "--json-key=qpdf", "--json-key=pages", str(path)],
                         capture_output=True, check=True, text=True).stdout
    return json.loads(out)


def _objects(doc: dict) -> dict[str, dict]:
    return doc["qpdf"][1]


def _xref_entries(data: bytes) -> dict[int, int]:
    """Object number → offset, parsed from the classic cross-reference table the trailer points at."""
    start = int(re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", data).group(1))
    assert data[start:start + 5] == b"xref\n"
    lines = data[start:].split(b"\n")
    first, count = (int(v) for v in lines[1].split())
    entries = {}
    for i, line in enumerate(lines[2:2 + count]):
        offset, _generation, kind = line.split()
        if kind == b"n":
            entries[first + i] = int(offset)
    return entries


def _stream_pdf(pages: int, *, title: str = "", size: tuple[float, float] = (200, 100)) -> bytes:
    buffer = io.BytesIO()
    pdf = PdfStream(buffer)
    for n in range(pages):
        pdf.add_page(f"0 g {n % 150} 10 30 20 re f\n".encode(), b"<<>>", size=size)
    pdf.close(title=title)
    return buffer.getvalue()


# --- the file's skeleton ------------------------------------------------------------------------------------

def test_every_cross_reference_entry_points_at_its_object() -> None:
    data = _stream_pdf(3)
    entries = _xref_entries(data)
    assert sorted(entries) == list(range(1, 11))  # catalogue, root, node, 3 × (contents, page), info
    for obj_id, offset in entries.items():
        assert data[offset:offset + 20].startswith(f"{obj_id} 0 obj\n".encode()), (obj_id, data[offset:offset + 20])
    check_structure(data)


def test_more_pages_than_one_page_tree_node_holds(tmp_path: Path) -> None:
    pages = 2 * PAGES_PER_NODE + 88  # three intermediate nodes: 256, 256, 88
    assert pages == 600
    data = _stream_pdf(pages)
    check_structure(data)

    doc = _qpdf_json(data, tmp_path)
    objects = _objects(doc)
    assert len(doc["pages"]) == 600
    catalog = objects["obj:" + objects["trailer"]["value"]["/Root"]]["value"]
    root = objects["obj:" + catalog["/Pages"]]["value"]
    assert root["/Count"] == 600 and "/Parent" not in root
    nodes = [objects["obj:" + kid]["value"] for kid in root["/Kids"]]
    assert [node["/Count"] for node in nodes] == [256, 256, 88]
    assert [len(node["/Kids"]) for node in nodes] == [256, 256, 88]
    assert {node["/Parent"] for node in nodes} == {catalog["/Pages"]}
    for node_ref, node in zip(root["/Kids"], nodes, strict=True):
        assert {objects["obj:" + kid]["value"]["/Parent"] for kid in node["/Kids"]} == {node_ref}
    # The page order survives the tree: page n draws its square at x = n mod 150.
    in_order = [objects["obj:" + page["object"]]["value"]["/Contents"] for page in doc["pages"]]
    contents = [objects["obj:" + kid]["value"]["/Contents"] for node in nodes for kid in node["/Kids"]]
    assert in_order == contents

    pdfium = pypdfium2.PdfDocument(data)
    assert len(pdfium) == 600
    assert pdfium[599].get_size() == (200, 100)
    pdfium.close()
    assert len(pypdf.PdfReader(io.BytesIO(data)).pages) == 600


def test_an_empty_job_is_still_a_valid_file(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    PdfStream(buffer).close()
    check_structure(buffer.getvalue())
    assert _qpdf_json(buffer.getvalue(), tmp_path)["pages"] == []


# --- names and strings ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "written"), [
    ("Type", b"/Type"),
    ("two words", b"/two#20words"),
    ("No#1", b"/No#231"),
    ("a/b(c)<d>[e]{f}%g", b"/a#2Fb#28c#29#3Cd#3E#5Be#5D#7Bf#7D#25g"),
    ("档案", b"/#E6#A1#A3#E6#A1#88"),
    ("tab\tnul\x00", b"/tab#09nul#00"),
])
def test_names_are_escaped_byte_by_byte(value: str, written: bytes) -> None:
    assert name(value) == written


@pytest.mark.parametrize(("text", "written"), [
    ("plain", b"(plain)"),
    ("a(b)c", b"(a\\(b\\)c)"),
    ("(((", b"(\\(\\(\\()"),
    ("back\\slash\\", b"(back\\\\slash\\\\)"),
    ("CR\rLF\n", b"(CR\\rLF\n)"),  # a bare CR inside a literal would be read back as LF
    ("档案室", b"<FEFF686368485BA4>"),
    ("𠮷", b"<FEFFD842DFB7>"),  # outside the BMP: a surrogate pair
])
def test_strings_are_escaped_or_hex_encoded(text: str, written: bytes) -> None:
    assert literal(text) == written


ODD_TEXTS = ["a(b)c\\d", ")))(((", "ends with a backslash\\", "第一行\r\n第二行 (括号) \\", "carriage\rreturn",
             "line\nfeed", "𠮷野家"]


@pytest.mark.parametrize("text", ODD_TEXTS)
def test_strings_and_names_read_back_the_same_in_qpdf_pdfium_and_pypdf(text: str, tmp_path: Path) -> None:
    odd_name = f"k {text[:3]}#/"
    buffer = io.BytesIO()
    pdf = PdfStream(buffer)
    pdf.add_page(b"", dictionary({"Properties": dictionary({odd_name: name(text), "S": literal(text)})}))
    pdf.close(title=text, producer=f"producer {text}")
    data = buffer.getvalue()
    check_structure(data)

    objects = _objects(_qpdf_json(data, tmp_path))
    info = objects["obj:" + objects["trailer"]["value"]["/Info"]]["value"]
    assert info["/Title"] == "u:" + text
    page, = (o["value"] for o in objects.values() if isinstance(o.get("value"), dict)
             and o["value"].get("/Type") == "/Page")
    assert page["/Resources"]["/Properties"] == {"/" + odd_name: "/" + text, "/S": "u:" + text}

    metadata = pypdfium2.PdfDocument(data).get_metadata_dict()
    assert (metadata["Title"], metadata["Producer"]) == (text, f"producer {text}")
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert reader.metadata.title == text
    assert reader.pages[0]["/Resources"]["/Properties"]["/S"] == text


def test_numbers_are_plain_decimals() -> None:
    assert [num(v) for v in (0, 12.0, 595.2756, -0.5, 1e-4, 1234567)] == \
        [b"0", b"12", b"595.276", b"-0.5", b"0", b"1234567"]
    assert array([num(1), ref(7)]) == b"[1 7 0 R]"
    assert dictionary({"A": b"1", "B C": b"/D"}) == b"<</A 1/B#20C /D>>"


# --- streams, fonts and XObjects -----------------------------------------------------------------------------

def test_stream_length_matches_the_bytes_written_compressed_or_not(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    pdf = PdfStream(buffer)
    raw = pdf.write_stream(b"endstream inside the data\n" * 40, compress=False)
    packed = pdf.write_stream(b"0 g 0 0 10 10 re f\n" * 40)
    pdf.add_page(b"", b"<<>>")
    pdf.close()
    data = buffer.getvalue()
    check_structure(data)
    objects = _objects(_qpdf_json(data, tmp_path))
    assert objects[f"obj:{raw} 0 R"]["stream"]["dict"] == {"/Length": 26 * 40}
    assert objects[f"obj:{packed} 0 R"]["stream"]["dict"]["/Filter"] == "/FlateDecode"
    offset = _xref_entries(data)[packed]
    body = data[offset:].split(b"stream\n", 1)[1]
    length = objects[f"obj:{packed} 0 R"]["stream"]["dict"]["/Length"]
    assert body[length:length + 10] == b"\nendstream"
    assert zlib.decompress(body[:length]) == b"0 g 0 0 10 10 re f\n" * 40


def _text_pdf(texts: list[str]) -> bytes:
    buffer = io.BytesIO()
    pdf = PdfStream(buffer)
    font = EmbeddedFont(load_metrics(font_path("NotoSansCJKsc-Regular.otf")))
    font_id = pdf.reserve()
    resources = dictionary({"Font": dictionary({font.resource_name: ref(font_id)})})
    for text in texts:
        pdf.add_page(b"BT /F1 24 Tf 20 40 Td " + font.encode(text) + b" Tj ET\n", resources, size=(400, 100))
    font.write(pdf, font_id)
    pdf.close(title="字体")
    return buffer.getvalue()


def test_an_embedded_subset_font_reads_back_as_text_in_pdfium_and_pypdf(tmp_path: Path) -> None:
    texts = ["居民健康档案 130123", "张三丰（户主）"]
    data = _text_pdf(texts)
    check_structure(data)

    pdfium = pypdfium2.PdfDocument(data)
    assert [compact(pdfium[i].get_textpage().get_text_range()) for i in range(2)] == \
        ["居民健康档案130123", "张三丰（户主）"]
    pdfium.close()
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert [compact(page.extract_text()) for page in reader.pages] == ["居民健康档案130123", "张三丰（户主）"]

    objects = _objects(_qpdf_json(data, tmp_path))
    type0, = (o["value"] for o in objects.values() if isinstance(o.get("value"), dict)
              and o["value"].get("/Subtype") == "/Type0")
    assert type0["/Encoding"] == "/Identity-H"
    assert re.fullmatch(r"/[A-Z]{6}\+NotoSansCJKsc-Regular", type0["/BaseFont"])
    cid_font = objects["obj:" + type0["/DescendantFonts"][0]]["value"]
    descriptor = objects["obj:" + cid_font["/FontDescriptor"]]["value"]
    program = objects["obj:" + descriptor["/FontFile3"]]["stream"]["dict"]
    assert program["/Subtype"] == "/CIDFontType0C"
    # A subset: the whole face is 16 MB, the 16 characters used are a few kilobytes.
    assert program["/Length"] < 40_000


# A 4 × 4 black PNG, drawn by WeasyPrint into the page that becomes the Form XObject (an image inside a form).
BLACK_PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000040000000408000000008c9ac1a20000000b49444154789c6360c004"
    "00001400017dfe1eee0000000049454e44ae426082")).decode()


def _weasyprint_page() -> bytes:
    html = f"""<style>@page {{ size: 100mm 50mm; margin: 0 }} body {{ margin: 0; font-family: 'AP Sans' }}
      img {{ position: absolute; left: 10mm; top: 10mm; width: 20mm; height: 20mm; image-rendering: pixelated }}
      p {{ position: absolute; left: 40mm; top: 10mm; margin: 0; font-size: 14pt }}</style>
      <img src="data:image/png;base64,{BLACK_PNG}"><p>档案室</p>"""
    return render(html).write_pdf()


def test_a_drawn_page_imported_as_a_form_xobject_is_placed_on_many_pages(tmp_path: Path) -> None:
    source = pypdf.PdfReader(io.BytesIO(_weasyprint_page()))
    buffer = io.BytesIO()
    pdf = PdfStream(buffer)
    xobject = pdf.import_page_as_xobject(source.pages[0], 1)
    again = pdf.import_page_as_xobject(source.pages[0], 1)  # same source: its font and image are not copied twice
    size = (100 * 72 / 25.4, 50 * 72 / 25.4)
    for placed in (xobject, again, xobject):
        pdf.add_page(b"q /P Do Q\n", dictionary({"XObject": dictionary({"P": ref(placed)})}), size=size)
    pdf.close()
    data = buffer.getvalue()
    check_structure(data)

    objects = _objects(_qpdf_json(data, tmp_path))
    forms = [o["stream"]["dict"] for o in objects.values() if o.get("stream", {}).get("dict", {}).get("/Subtype")
             == "/Form"]
    images = [o for o in objects.values() if o.get("stream", {}).get("dict", {}).get("/Subtype") == "/Image"]
    font_files = [o for o in objects.values() if "/FontFile3" in str(o.get("value", "")) or
                  "/FontFile2" in str(o.get("value", ""))]
    assert len(forms) == 2 and len(images) == 1 and len(font_files) == 1
    assert forms[0]["/BBox"] == [0, 0, 283.465, 141.732]
    assert "/XObject" in forms[0]["/Resources"] and "/Font" in forms[0]["/Resources"]

    pdfium = pypdfium2.PdfDocument(data)
    assert len(pdfium) == 3
    for index in range(3):
        page = pdfium[index]
        assert compact(page.get_textpage().get_text_range()) == "档案室"
        image = page.render(scale=2, grayscale=True).to_pil()  # 2 px per point
        mm = 2 * 72 / 25.4
        assert image.getpixel((int(20 * mm), int(20 * mm))) < 40  # inside the black square (10–30 mm)
        assert image.getpixel((int(5 * mm), int(5 * mm))) > 215  # the white margin around it
        assert image.getpixel((int(35 * mm), int(40 * mm))) > 215
    pdfium.close()
