"""`kyukit admin create` and `kyukit totp`, checked with code we did not write: the terminal QR code
read by zxing-cpp, and the one-time codes computed here from RFC 6238 with hmac."""
import base64
import hashlib
import hmac
import os
import re
import struct
import time
from datetime import datetime, timezone

import zxingcpp
from PIL import Image

from conftest import run


def rfc6238(secret_b32: str, at: int) -> str:
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, struct.pack(">Q", at // 30), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF) % 1_000_000)


def terminal_qr_to_image(lines, scale=6):
    """Half blocks back to pixels: a block's half is light, a space's half dark."""
    width = len(lines[0])
    img = Image.new("L", (width * scale, len(lines) * 2 * scale), 255)
    px = img.load()
    for row, line in enumerate(lines):
        for col, ch in enumerate(line):
            top_light, bottom_light = {"█": (1, 1), " ": (0, 0), "▀": (1, 0), "▄": (0, 1)}[ch]
            for half, light in ((0, top_light), (1, bottom_light)):
                if not light:
                    for dy in range(scale):
                        for dx in range(scale):
                            px[col * scale + dx, (row * 2 + half) * scale + dy] = 0
    return img


def test_admin_create_shows_a_scannable_second_factor_and_totp_computes_its_codes(tmp_path):
    env = dict(os.environ, KYUKIT_ADMIN_PASSWORD="a long admin password")
    r = run("admin", "create", "--data-dir", tmp_path / "data", "--login-id", "admin", "--name", "City administrator", env=env)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    uri = re.search(r"otpauth://\S+", out).group(0)
    secret = re.search(r"secret: ([A-Z2-7]+)", out).group(1)
    qr_lines = [line for line in out.splitlines() if line and set(line) <= set("█▀▄ ")]
    assert len(qr_lines) > 10, out
    found = zxingcpp.read_barcodes(terminal_qr_to_image(qr_lines), formats=zxingcpp.BarcodeFormat.QRCode)
    assert [f.text for f in found] == [uri]
    assert f"secret={secret}&" in uri

    # A fixed time: the code is RFC 6238's, computed here.
    for at in (0, 59, 1_795_219_200, 2_000_000_000):
        stamp = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        r = run("totp", "--secret", secret, "--at", stamp)
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode().strip() == rfc6238(secret, at)
    # Now: one of the codes of the steps around this moment (the step may turn in between).
    before = int(time.time())
    r = run("totp", "--secret", secret)
    after = int(time.time())
    assert r.stdout.decode().strip() in {rfc6238(secret, before), rfc6238(secret, after)}
    # A wrong secret is one clear line and exit 1.
    r = run("totp", "--secret", "not base32!")
    assert r.returncode == 1 and b"base32" in r.stderr and len(r.stderr.decode().strip().splitlines()) == 1
