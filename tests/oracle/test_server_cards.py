"""A live `kyukit serve`: a resident registers, enters data, consents and gets a card; the served PNG
is decoded by zxing-cpp, verified against the served JWKS; after revocation the served revocation
list makes `kyukit card verify --revocations` refuse it."""
import json
import re
import subprocess
import urllib.request

import zxingcpp
from conftest import kyukit_bin, run
from PIL import Image


class Server:
    def __init__(self, tmp_path):
        self.proc = subprocess.Popen([kyukit_bin(), "serve", "--listen", "127.0.0.1:0", "--data-dir", tmp_path / "data", "--public-url", "https://qq.city.joso.lg.jp/"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for _ in range(20):
            m = re.search(r"(http://127\.0\.0\.1:\d+)/healthz", self.proc.stdout.readline())
            if m:
                self.base = m.group(1)
                return
        raise AssertionError("server did not start")

    def call(self, method, path, token=None, body=None):
        req = urllib.request.Request(self.base + path, method=method, data=json.dumps(body).encode() if body is not None else None)
        req.add_header("content-type", "application/json")
        if token:
            req.add_header("authorization", "Bearer " + token)
        with urllib.request.urlopen(req, timeout=10) as r:
            data = r.read()
            return data if r.headers.get_content_type() != "application/json" else json.loads(data)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def test_served_card_verifies_and_revocation_list_refuses_it(tmp_path):
    s = Server(tmp_path)
    try:
        reg = s.call("POST", "/api/v1/residents", body={"login_id": "hanako", "password": "correct horse battery", "profile": {
            "family_name": "山田", "given_name": "花子", "date_of_birth": "1941-04-03", "sex": "female",
            "address": "茨城県常総市", "preferred_language": "ja"}})
        rid, token = reg["resident_id"], reg["token"]
        s.call("POST", f"/api/v1/residents/{rid}/dataset", token, {"category": "blood_type", "body": {"abo": "O", "rh": "-"}})
        s.call("POST", f"/api/v1/residents/{rid}/consents", token, {"categories": ["blood_type"], "disaster_use": False, "triage_on_card": True, "name_on_print": False})
        card = s.call("POST", f"/api/v1/residents/{rid}/cards", token, {})
        png = tmp_path / "served.png"
        png.write_bytes(s.call("GET", f"/api/v1/residents/{rid}/cards/{card['id']}/qr.png", token))
        found = zxingcpp.read_barcodes(Image.open(png), formats=zxingcpp.BarcodeFormat.QRCode)
        assert len(found) == 1 and found[0].text == card["url"]
        assert int(found[0].extra["Version"]) <= 13 and found[0].extra["ECLevel"] in ("Q", "H")
        jwks = tmp_path / "jwks.json"
        jwks.write_bytes(s.call("GET", "/.well-known/jwks.json"))
        ok = run("card", "verify", "--jwks", jwks, "--png", png)
        assert ok.returncode == 0, ok.stderr
        claims = json.loads(ok.stdout)
        assert claims["cti"] == card["id"] and claims["triage"]["blood_type"] == "O-"

        revocations = tmp_path / "revoked.json"
        revocations.write_text(json.dumps(s.call("GET", f"/api/v1/revocations/{claims['kid']}")))
        assert run("card", "verify", "--jwks", jwks, "--png", png, "--revocations", revocations).returncode == 0
        s.call("POST", f"/api/v1/residents/{rid}/cards/{card['id']}/revoke", token, {"reason": "lost"})
        revocations.write_text(json.dumps(s.call("GET", f"/api/v1/revocations/{claims['kid']}")))
        r = run("card", "verify", "--jwks", jwks, "--png", png, "--revocations", revocations)
        assert r.returncode == 1 and b"revoked" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    finally:
        s.stop()
