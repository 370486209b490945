"""The print engine every document stands on: PDF objects, embedded font subsets, drawing, barcodes, WeasyPrint.

writer (PDF objects and files) ← fonts (shipped CJK fonts, metrics, subsets) ← draw (text and shapes) ← barcodes
(symbols); weasy lays HTML out with the same fonts. Importing the package imports nothing: WeasyPrint loads only
when something is laid out (the CLI must start without it).
"""
