"""The identity photo (issue 19) read by an independent decoder: Pillow makes a JPEG with EXIF (GPS
position, orientation) and a comment; the resident uploads it to a live `kyukit serve`; a paramedic
scans the card and fetches the photo with a request signed by http-message-signatures. Pillow then
finds in what is served no EXIF, no GPS, no comment and no APP segment but JFIF's, the picture
upright (the orientation applied, not just dropped) and at most 800 px."""
import io
import json

import requests
from PIL import Image, ImageDraw
# The live server, the device and the signing of test_httpsig_interop.py (fixtures included).
from test_httpsig_interop import medic, scan_body, send, server, sign, world  # noqa: F401

GPS = 0x8825
ORIENTATION = 0x0112


def jpeg_with_gps():
    """1200×900 stored pixels, a red block at the stored top-left, EXIF orientation 6 (shown turned
    90° clockwise: 900×1200, the red block at the top-right), a GPS position and a comment."""
    img = Image.new("RGB", (1200, 900), (40, 90, 160))
    ImageDraw.Draw(img).rectangle([0, 0, 199, 199], fill=(230, 0, 0))
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    exif[GPS] = {1: "N", 2: (36.0, 1.0, 26.0), 3: "E", 4: (139.0, 59.0, 36.0)}
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes(), comment=b"home of Yamada Hanako", quality=90)
    data = buf.getvalue()
    check = Image.open(io.BytesIO(data))
    assert check.getexif().get_ifd(GPS)[2] == (36.0, 1.0, 26.0), "the input carries a GPS position"
    assert check.getexif()[ORIENTATION] == 6 and check.info.get("comment")
    return data


def test_served_photo_has_no_exif_and_is_upright(server, world, medic):  # noqa: F811
    rid, rtoken = world["rid"], world["rtoken"]
    auth = {"Authorization": "Bearer " + rtoken}
    server.call("POST", f"/api/v1/residents/{rid}/consents", rtoken, {
        "categories": ["medications", "photo"], "disaster_use": False, "triage_on_card": True, "name_on_print": False})
    r = requests.put(f"{server.base}/api/v1/residents/{rid}/photo", data=jpeg_with_gps(),
                     headers={**auth, "Content-Type": "image/jpeg"}, timeout=30)
    assert r.status_code == 200, r.text
    assert (r.json()["width"], r.json()["height"]) == (600, 800)

    r = send(sign(server, world, "POST", "/api/v1/scans", scan_body(world, "R8-PHOTO"), token=medic))
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["photo"] is True and "photo" in d["categories"]
    r = send(sign(server, world, "GET", f"/api/v1/accesses/{d['access_id']}/photo", token=medic))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg" and r.headers["cache-control"] == "no-store"

    served = Image.open(io.BytesIO(r.content))
    assert served.format == "JPEG"
    assert len(served.getexif()) == 0, dict(served.getexif())
    assert served.getexif().get_ifd(GPS) == {}
    assert "exif" not in served.info and "comment" not in served.info
    assert [m for m, _ in served.applist if m != "APP0"] == [], served.applist
    assert b"Exif" not in r.content and b"Yamada" not in r.content
    assert served.size == (600, 800)
    served = served.convert("RGB")
    right, left = served.getpixel((600 - 30, 30)), served.getpixel((30, 30))
    assert right[0] > 180 and right[2] < 90, f"the red block is at the top-right once upright: {right}"
    assert left[2] > 120, f"the top-left is the blue background: {left}"

    # The resident's own copy is the same bytes.
    own = requests.get(f"{server.base}/api/v1/residents/{rid}/photo", headers=auth, timeout=10)
    assert own.status_code == 200 and own.content == r.content


def test_not_an_image_and_too_large_are_refused(server, world):  # noqa: F811
    rid, rtoken = world["rid"], world["rtoken"]
    url = f"{server.base}/api/v1/residents/{rid}/photo"
    for body, ct, status, code in [
        (b"%PDF-1.7 not a photo", "application/pdf", 415, "unsupported_media_type"),
        (b"\xff\xd8\xff" + b"\0" * 100, "image/jpeg", 422, "not_an_image"),
        (b"\xff\xd8\xff" + b"\0" * (6 << 20), "image/jpeg", 413, "payload_too_large"),
    ]:
        r = requests.put(url, data=body, headers={"Authorization": "Bearer " + rtoken, "Content-Type": ct}, timeout=30)
        assert r.status_code == status and r.json()["error"] == code, (r.status_code, r.text)
        assert json.loads(r.text)["message"]
