"""The printables (kyukit-print) checked by tools we did not write.

zxing-cpp decodes the QR from the PNGs and from the PDFs rasterised by poppler's pdftoppm; poppler's
pdftotext, pdfinfo and pdffonts read the PDFs' text, page size and fonts. The sample card comes
from the crate's `printables` example (signed with the public RFC 6979 test key): a pointer card
(QR version 10) and the largest kind, with an issuer and every triage flag (version 11).
"""
import os
import pathlib
import shutil
import subprocess

import pytest
import zxingcpp
from conftest import ROOT
from PIL import Image

NAME = "山田 花子"
PAPER = {"fridge": (150, (1240, 1754), 80.0), "wallet": (300, (1011, 638), 35.0)}


@pytest.fixture(scope="module")
def printed(tmp_path_factory):
    """The four printables of both cards without a name and with NAME: {(triage, name): dir}."""
    out = {}
    for triage in (False, True):
        for name in (None, NAME):
            d = tmp_path_factory.mktemp("print")
            # tests/run.sh builds the example with the rest of the workspace (one feature set) and
            # names it; `cargo run -p kyukit-print` alone resolves the dependencies' features for
            # that one package and compiles a second copy of them (minutes on 2 cores).
            built = os.environ.get("KYUKIT_PRINTABLES_BIN")
            args = [built] if built else ["cargo", "run", "-q", "-p", "kyukit-print", "--example", "printables", "--"]
            args += ["--triage"] * triage + [str(d)] + [name] * bool(name)
            r = subprocess.run(args, cwd=ROOT, capture_output=True, timeout=900)
            assert r.returncode == 0, r.stderr.decode(errors="replace")
            print(r.stdout.decode())
            out[triage, name] = d
    return out


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} (Debian poppler-utils) is not installed")
    return path


def only_qr(img: Image.Image, url: str):
    # QR codes only (every-format decoding can report a short ITF false positive inside a QR).
    found = zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode)
    assert [(b.format, b.text) for b in found] == [(zxingcpp.BarcodeFormat.QRCode, url)]
    return found[0]


def symbol_mm(barcode, dpi: float) -> float:
    p = barcode.position
    return (p.top_right.x - p.top_left.x) / dpi * 25.4


@pytest.mark.parametrize("kind", ["fridge", "wallet"])
@pytest.mark.parametrize("name", [None, NAME])
@pytest.mark.parametrize("triage", [False, True])
def test_png_size_and_qr(printed, kind, name, triage):
    d = printed[triage, name]
    url = (d / "url.txt").read_text()
    dpi, size, min_mm = PAPER[kind]
    img = Image.open(d / f"{kind}.png")
    assert img.size == size
    # The PNG records its resolution, so it prints at A4 / ID-1 size.
    assert all(abs(v - dpi) < 0.1 for v in img.info["dpi"]), img.info
    qr = only_qr(img, url)
    assert symbol_mm(qr, dpi) >= min_mm


@pytest.mark.parametrize("kind", ["fridge", "wallet"])
@pytest.mark.parametrize("triage", [False, True])
def test_pdf_rasterised_by_poppler_scans(printed, kind, triage, tmp_path):
    d = printed[triage, NAME]
    url = (d / "url.txt").read_text()
    dpi, size, min_mm = PAPER[kind]
    prefix = tmp_path / kind
    subprocess.run([poppler("pdftoppm"), "-png", "-r", str(dpi), "-singlefile", d / f"{kind}.pdf", prefix], check=True)
    img = Image.open(f"{prefix}.png")
    # Page size: A4 / ID-1 at the PNG's resolution, give or take poppler's rounding.
    assert abs(img.size[0] - size[0]) <= 1 and abs(img.size[1] - size[1]) <= 1
    assert symbol_mm(only_qr(img, url), dpi) >= min_mm


@pytest.mark.parametrize("kind", ["fridge", "wallet"])
def test_pdf_text_fonts_and_page_size(printed, kind):
    texts = {}
    for name in (None, NAME):
        d = printed[False, name]
        pdf = d / f"{kind}.pdf"
        texts[name] = subprocess.run([poppler("pdftotext"), "-enc", "UTF-8", pdf, "-"], capture_output=True, check=True).stdout.decode()
        info = subprocess.run([poppler("pdfinfo"), pdf], capture_output=True, check=True).stdout.decode()
        assert "Pages:           1" in info
        expected = "595.276 x 841.89" if kind == "fridge" else "242.646 x 153.071"
        assert f"Page size:       {expected} pts" in info
        fonts = subprocess.run([poppler("pdffonts"), pdf], capture_output=True, check=True).stdout.decode().splitlines()[2:]
        assert len(fonts) == 1 and fonts[0].split()[-5:-2] == ["yes", "yes", "yes"], fonts  # embedded, subset, ToUnicode
        assert pdf.stat().st_size < 100_000
    for text in texts.values():
        flat = text.replace("\n", "")
        for wording in [
            "救急医療情報キット",
            "Emergency information card",
            "常総市",
            "Joso City",
            "救急隊の方へ：このQRコードを読み取ってください。",
            "ご家族・近くの方へ：具合が悪いときはすぐに119番へ。",
            "2026-11-21",
            "2031-11-21",
            "00112233",
        ]:
            assert wording in flat, wording
        assert ("冷蔵庫の扉に貼ってください" in flat) == (kind == "fridge")
    assert NAME in texts[NAME] and "氏名" in texts[NAME]
    assert "山田" not in texts[None] and "氏名" not in texts[None]
