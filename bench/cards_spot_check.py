#!/usr/bin/env python3
"""Spot-check `kyukit-bench cards --out DIR`: decode N random PNGs with zxing-cpp (an implementation
we did not write) and compare each to the signed URL in DIR/urls.tsv.

Usage: target/oracle-venv/bin/python bench/cards_spot_check.py DIR [N]
"""
import random, sys, pathlib, zxingcpp
from PIL import Image
d = pathlib.Path(sys.argv[1]); n = int(sys.argv[2]) if len(sys.argv) > 2 else 5
rows = [l.split("\t") for l in (d / "urls.tsv").read_text().splitlines()]
random.seed(7)
ok = 0
for path, url in random.sample(rows, n):
    img = Image.open(d / path)
    found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
    text = found[0].text if found else None
    good = text is not None and text.upper() == url.upper() and found[0].format == zxingcpp.BarcodeFormat.QRCode
    ok += good
    print(f"{path}: {img.mode} {img.size[0]}x{img.size[1]}, {found[0].format if found else '-'} {found[0].ec_level if found else ''}, {'matches' if good else 'MISMATCH ' + repr(text)} ({len(url)} chars)")
print(f"{ok}/{n} decoded by zxing-cpp to their signed URL")
sys.exit(0 if ok == n else 1)
