"""`kyukit cards batch` (issue 26): the cards of an import of 500 residents as one wallet-card PDF.
poppler counts and rasterises its pages, zxing-cpp decodes each page's QR code, and each card is
verified independently (cbor2 + cryptography, tests/oracle/test_cards.py) against the JWKS the
server publishes. The page list follows district and address; a second batch reuses the cards; a
resident without consent is skipped and listed."""
import csv
import json
import re
import shutil
import subprocess
import sys
import time

import pytest
import zxingcpp
from conftest import ROOT, run
from PIL import Image
from test_cards import cose_verify, digits_to_bytes, jwks_keys
from test_server_cards import Server

GEN = ROOT / "tests" / "tools" / "gen_register.py"
PUBLIC = "https://qq.city.joso.lg.jp/"
SUMMARY = re.compile(r"^(\d+) cards printed \((\d+) issued, (\d+) reused\), (\d+) skipped; (.+) \((\d+) bytes\); ([0-9.]+) s$", re.M)


def poppler(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} (Debian poppler-utils) is not installed")
    return path


def natural(s):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def test_a_batch_of_500_cards_prints_500_pages_of_verifying_cards(tmp_path):
    reg = tmp_path / "register.csv"
    subprocess.run([sys.executable, GEN, "--rows", "500", "--broken-percent", "0", "--seed", "27", "--out", reg], check=True)
    expected = json.loads((tmp_path / "register.expected.json").read_text())
    data = tmp_path / "data"
    env = {"KYUKIT_ADMIN_PASSWORD": "a long admin password", "PATH": "/usr/bin:/bin"}
    assert run("admin", "create", "--data-dir", data, "--login-id", "clerk", "--name", "福祉課", env=env).returncode == 0
    imp = run("residents", "import", "--data-dir", data, "--by", "clerk", "--csv", reg)
    assert imp.returncode == 0, imp.stdout.decode()[-2000:] + imp.stderr.decode()
    import_id = re.search(r"^import id: ([0-9a-f]{32})$", imp.stdout.decode(), re.M).group(1)

    # The published keys, and a resident registered through the portal without consent.
    s = Server(tmp_path)
    try:
        jwks = jwks_keys(json.loads(s.call("GET", "/.well-known/jwks.json")))
        s.call("POST", "/api/v1/residents", body={"login_id": "noconsent", "password": "correct horse battery", "profile": {
            "family_name": "常総", "given_name": "花", "date_of_birth": "1950-01-01", "sex": "female",
            "address": "茨城県常総市三妻町99-1", "district": "三妻", "preferred_language": "ja"}})
    finally:
        s.stop()

    pdf, listing = tmp_path / "wallet.pdf", tmp_path / "wallet.csv"
    args = ["cards", "batch", "--data-dir", data, "--public-url", PUBLIC, "--by", "clerk"]
    started = time.monotonic()
    r = run(*args, "--import-id", import_id, "--format", "wallet", "--out", pdf, "--list", listing)
    assert r.returncode == 0, r.stderr
    m = SUMMARY.search(r.stdout.decode())
    assert m and m.group(1, 2, 3, 4) == ("500", "500", "0", "0"), r.stdout
    print(f"batch of 500 wallet cards: {m.group(7)} s (wall {time.monotonic() - started:.1f} s), {pdf.stat().st_size} bytes")
    assert int(m.group(6)) == pdf.stat().st_size

    info = subprocess.run([poppler("pdfinfo"), pdf], capture_output=True, text=True, check=True).stdout
    assert re.search(r"^Pages:\s+500$", info, re.M), info
    pages = list(csv.DictReader(listing.open(encoding="utf-8")))
    assert [int(p["page"]) for p in pages] == list(range(1, 501))
    # Sorted by district, then address (numbers as numbers).
    keys = [(p["district"], natural(p["address"])) for p in pages]
    assert keys == sorted(keys)
    assert len({p["card_id"] for p in pages}) == 500

    out = tmp_path / "pages"
    out.mkdir()
    subprocess.run([poppler("pdftoppm"), "-png", "-r", "200", pdf, out / "p"], check=True)
    images = sorted(out.glob("p-*.png"), key=lambda p: int(p.stem.split("-")[1]))
    assert len(images) == 500
    for page, img in zip(pages, images):
        found = zxingcpp.read_barcodes(Image.open(img), formats=zxingcpp.BarcodeFormat.QRCode)
        assert len(found) == 1, img
        cose = digits_to_bytes(found[0].text.rsplit("/", 1)[1])
        claims = cose_verify(cose, jwks)  # raises unless the signature verifies
        assert claims[7].hex() == page["card_id"], img

    # Again: the current cards are reused, not issued twice.
    r = run(*args, "--import-id", import_id, "--format", "wallet", "--out", tmp_path / "again.pdf")
    m = SUMMARY.search(r.stdout.decode())
    assert m and m.group(1, 2, 3) == ("500", "0", "500"), r.stdout

    # A district: its imported residents, and the one without consent skipped and listed.
    r = run(*args, "--district", "三妻", "--format", "fridge", "--out", tmp_path / "fridge.pdf")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    m = SUMMARY.search(out)
    n = expected["districts"]["三妻"]
    assert m and m.group(1, 4) == (str(n), "1"), out
    assert re.search(r"^skipped: resident [0-9a-f]{32} \(三妻 茨城県常総市三妻町99-1\): no consent in force$", out, re.M), out
    info = subprocess.run([poppler("pdfinfo"), tmp_path / "fridge.pdf"], capture_output=True, text=True, check=True).stdout
    assert re.search(rf"^Pages:\s+{n}$", info, re.M)
