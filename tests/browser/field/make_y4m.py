#!/usr/bin/env python3
"""A Y4M video (what Chromium's --use-file-for-fake-video-capture plays as the camera) showing one
QR code on white: either a PNG the server rendered (--png) or text encoded here with zxing-cpp
(--text, for cards the server would never render, such as a tampered one). 640x480, 4:2:0, a few
identical frames (Chromium loops the file). The frame is decoded again with zxing-cpp before it is
written, so a video that could not be read is caught here, not in the browser.

Uses target/oracle-venv (tests/oracle/requirements.txt: pillow, zxing-cpp)."""
import argparse
import sys

import zxingcpp
from PIL import Image

W, H = 640, 480


def main() -> int:
    ap = argparse.ArgumentParser()
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--png")
    src.add_argument("--text")
    ap.add_argument("--out", required=True)
    ap.add_argument("--frames", type=int, default=5)
    a = ap.parse_args()
    if a.png:
        qr = Image.open(a.png).convert("L")
    else:
        code = zxingcpp.create_barcode(a.text, zxingcpp.BarcodeFormat.QRCode, ec_level="Q")
        qr = code.to_image(scale=1, add_quiet_zones=True)
        qr = qr if isinstance(qr, Image.Image) else Image.fromarray(qr)
        qr = qr.convert("L")
    # As large as fits with room around it, whole pixels per module (nearest neighbour).
    scale = max(1, min((W - 80) // qr.width, (H - 60) // qr.height)) if qr.width < W - 80 else 1
    if scale > 1:
        qr = qr.resize((qr.width * scale, qr.height * scale), Image.NEAREST)
    if qr.width > W or qr.height > H:
        qr.thumbnail((H - 20, H - 20), Image.NEAREST)
    frame = Image.new("L", (W, H), 255)
    frame.paste(qr, ((W - qr.width) // 2, (H - qr.height) // 2))
    found = zxingcpp.read_barcodes(frame, formats=zxingcpp.BarcodeFormat.QRCode)
    if not found:
        print("make_y4m: the frame does not decode", file=sys.stderr)
        return 1
    y = frame.tobytes()
    uv = bytes([128]) * ((W // 2) * (H // 2))
    with open(a.out, "wb") as f:
        f.write(f"YUV4MPEG2 W{W} H{H} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(a.frames):
            f.write(b"FRAME\n" + y + uv + uv)
    print(found[0].text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
