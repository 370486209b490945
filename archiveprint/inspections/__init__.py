"""The inspection (抽查): draw household folders at random, pull them, read them against a checklist, rate them."""
