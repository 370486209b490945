"""Extract the Simplified-Chinese faces of Noto CJK from Debian's fonts-noto-cjk collections.

How the shipped fonts were produced (re-run to reproduce them byte for byte from the same package version):

    apt-get install fonts-noto-cjk        # 1:20220127+repack1-1 on Debian 12
    .venv/bin/python fonts/extract.py

Each .ttc holds the JP, KR, SC, TC and HK faces; they share one glyph set (44,746 glyphs, covering
CJK Extensions A and B, e.g. 𠮷 U+20BB7 and 䶮 U+4DAE), so the SC face alone is complete for our names.
The fonts are under the SIL Open Font License 1.1 (fonts/OFL.txt).
"""

from pathlib import Path

from fontTools.ttLib import TTCollection

SOURCE = Path("/usr/share/fonts/opentype/noto")
HERE = Path(__file__).resolve().parent
FACES = {
    "NotoSerifCJK-Regular.ttc": "NotoSerifCJKsc-Regular.otf",
    "NotoSansCJK-Regular.ttc": "NotoSansCJKsc-Regular.otf",
    "NotoSansCJK-Bold.ttc": "NotoSansCJKsc-Bold.otf",
}


def main() -> None:
    for collection, target in FACES.items():
        for font in TTCollection(SOURCE / collection).fonts:
            if " SC" in font["name"].getDebugName(4):
                font.save(HERE / target)
                print(target, (HERE / target).stat().st_size)
                break


if __name__ == "__main__":
    main()
