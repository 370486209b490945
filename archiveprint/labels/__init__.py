"""Labels: household folder, spine, resident, card and shelf labels with barcodes, on the stock clinics own."""
