"""RFC 9421 interoperability: a live `kyukit serve` accepts field requests signed by
http-message-signatures (PyPI, pinned in requirements.txt) — an implementation we did not write —
and refuses replays, altered bodies and foreign keys (docs/device-protocol.md).

The library signs `requests` PreparedRequests with ECDSA_P256_SHA256 and a P-256 key generated
by `cryptography`. What it produces, checked in `test_library_serialization_is_the_profile`:

* components exactly as listed in `covered_component_ids`, serialised as an RFC 8941 inner list of
  sf-strings separated by one space; with `body=` it computes `Content-Digest` itself
  (`sha-256=:<base64>:`, RFC 9530) and covers `content-digest` (appended only if not listed);
* signature parameters in the order created, keyid, alg, nonce (`alg` is included by default,
  `include_alg=True`); created is `int(datetime.now().timestamp())`, the real clock;
* `Signature: kyukit=:<base64 of r‖s>:`, 64 bytes (it converts cryptography's DER itself).

The server under test uses the system clock (`kyukit serve` → `SystemClock`), so the library's
default `created` lies inside the server's ±60 s window.
"""
import base64
import datetime
import hashlib
import json
import os
import re
import secrets
import subprocess

import http_sf
import pyotp
import pytest
import requests
from conftest import kyukit_bin
from cryptography.hazmat.primitives.asymmetric import ec
from fhir.resources import get_fhir_model_class
from fhir.resources.bundle import Bundle
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, MappingKeyResolver, algorithms

PUBLIC_URL = "https://qq.city.joso.lg.jp/"
ADMIN_PASSWORD = "city admin password 1"
MEDIC_PASSWORD = "paramedic password 1"
LABEL = "kyukit"
ALG = "ecdsa-p256-sha256"


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def content_digest(body: bytes) -> str:
    """RFC 9530, computed here independently of both the library and the server."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict:
    n = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": b64url(n.x.to_bytes(32, "big")), "y": b64url(n.y.to_bytes(32, "big"))}


class Server:
    """`kyukit admin create` on a fresh data directory, then `kyukit serve` on it (system clock)."""

    def __init__(self, data):
        env = {k: v for k, v in os.environ.items() if not k.startswith("KYUKIT_") and k != "DATABASE_URL"}
        common = ["--data-dir", str(data), "--public-url", PUBLIC_URL]
        r = subprocess.run([kyukit_bin(), "admin", "create", *common, "--login-id", "admin", "--name", "市役所 管理者"],
                           env={**env, "KYUKIT_ADMIN_PASSWORD": ADMIN_PASSWORD}, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        # The administrator's second factor, printed once by `kyukit admin create`.
        self.admin_totp = re.search(r"secret: ([A-Z2-7]+)", r.stdout).group(1)
        self.proc = subprocess.Popen([kyukit_bin(), "serve", "--listen", "127.0.0.1:0", *common],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for _ in range(20):
            m = re.search(r"(http://127\.0\.0\.1:\d+)/healthz", self.proc.stdout.readline())
            if m:
                self.base = m.group(1)
                return
        self.stop()
        raise AssertionError("server did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def call(self, method, path, token=None, body=None, expect=201):
        """An unsigned JSON request (admin, resident, enrollment)."""
        headers = {"Authorization": "Bearer " + token} if token else {}
        r = requests.request(method, self.base + path, json=body, headers=headers, timeout=10)
        assert r.status_code == expect, (path, r.status_code, r.text)
        return r.json()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("httpsig") / "data")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def world(server):
    """A fire department with a paramedic, a device enrolled with a Python-generated P-256 key, and
    a resident with a card whose consent shares medications — built through the real API."""
    # Staff log in with a TOTP code: computed here by pyotp, an implementation we did not write.
    admin = server.call("POST", "/api/v1/sessions", body={
        "login_id": "admin", "password": ADMIN_PASSWORD, "totp": pyotp.TOTP(server.admin_totp).now()})["token"]
    fire = server.call("POST", "/api/v1/facilities", admin, {
        "kind": "fire_department", "name_ja": "常総広域消防本部", "name_en": "Joso Fire Department",
        "address": "茨城県常総市水海道諏訪町3222-3", "phone": "0297-23-0119"})["id"]
    medic_totp = server.call("POST", f"/api/v1/facilities/{fire}/staff", admin, {
        "login_id": "medic1", "password": MEDIC_PASSWORD, "role": "paramedic", "display_name": "救急 隊員"})["totp"]
    assert medic_totp["uri"].startswith("otpauth://totp/Kyukit:medic1?secret=" + medic_totp["secret"])
    assert pyotp.parse_uri(medic_totp["uri"]).secret == medic_totp["secret"]
    code = server.call("POST", f"/api/v1/facilities/{fire}/enrollment-codes", admin,
                       {"label": "救急1号車", "ttl_minutes": 60})["code"]
    key = ec.generate_private_key(ec.SECP256R1())
    device = server.call("POST", "/api/v1/devices", body={"code": code, "public_key": public_jwk(key), "label": "python oracle"})
    assert device["facility_id"] == fire and re.fullmatch(r"[0-9a-f]{32}", device["device_id"])

    reg = server.call("POST", "/api/v1/residents", body={
        "login_id": "hanako", "password": "correct horse battery", "profile": {
            "family_name": "山田", "given_name": "花子", "family_name_kana": "ヤマダ", "given_name_kana": "ハナコ",
            "date_of_birth": "1941-04-03", "sex": "female", "address": "茨城県常総市水海道諏訪町3222-3",
            "district": "水海道", "phone": "0297-23-2111", "preferred_language": "ja"}})
    rid, rtoken = reg["resident_id"], reg["token"]
    server.call("POST", f"/api/v1/residents/{rid}/dataset", rtoken, {"category": "medications", "body": {
        "name": "ワルファリン", "dose": "2mg", "frequency": "朝1回", "anticoagulant": True, "code": "3332001F1010"}})
    server.call("POST", f"/api/v1/residents/{rid}/dataset", rtoken, {"category": "conditions", "body": {"name": "心房細動", "icd10": "I48.9"}})
    server.call("POST", f"/api/v1/residents/{rid}/consents", rtoken, {
        "categories": ["medications"], "disaster_use": False, "triage_on_card": True, "name_on_print": False})
    card = server.call("POST", f"/api/v1/residents/{rid}/cards", rtoken, {})
    return {"device_id": device["device_id"], "key": key, "card_url": card["url"], "card_id": card["id"],
            "medic_totp": medic_totp["secret"], "rid": rid, "rtoken": rtoken}


def sign(server, world, method, path, body=None, token=None, key=None, accept=None, nonce=None):
    """A `requests` PreparedRequest signed by http-message-signatures with the protocol's profile."""
    headers = {}
    if body is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = "Bearer " + token
    if accept:
        headers["Accept"] = accept
    req = requests.Request(method, server.base + path, headers=headers, data=body).prepare()
    covered = ["@method", "@authority", "@path"]
    if token:
        covered.append("authorization")
    if body:
        covered.append("content-digest")
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ECDSA_P256_SHA256,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={world["device_id"]: key or world["key"]}))
    signer.sign(req, key_id=world["device_id"], label=LABEL, nonce=nonce or b64url(secrets.token_bytes(16)),
                covered_component_ids=covered, body=body if body else None)
    return req


def send(req):
    with requests.Session() as s:
        return s.send(req, timeout=10)


def login(server, world):
    body = json.dumps({"login_id": "medic1", "password": MEDIC_PASSWORD,
                       "totp": pyotp.TOTP(world["medic_totp"]).now()}).encode()
    r = send(sign(server, world, "POST", "/api/v1/sessions", body))
    assert r.status_code == 201, r.text
    return r.json()["token"]


@pytest.fixture(scope="module")
def medic(server, world):
    return login(server, world)


def scan_body(world, incident="R8-0001"):
    return json.dumps({"card": world["card_url"], "incident_ref": incident}).encode()


def error(r, status, code):
    assert r.status_code == status and r.json()["error"] == code, (r.status_code, r.text)


def test_library_serialization_is_the_profile(server, world):
    """What the library puts on the wire, checked against docs/device-protocol.md with our own
    Content-Digest and http-sf's parser, and against the library's own verifier."""
    body = b'{"hello": "world"}'
    req = sign(server, world, "POST", "/api/v1/sessions", body, token="t0ken", nonce="q1bnbSZRk3FbxNhwcOcJWg")
    assert req.headers["Content-Digest"] == content_digest(body) == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    si, sig = req.headers["Signature-Input"], req.headers["Signature"]
    created = int(re.search(r";created=(\d+)", si).group(1))
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
    assert abs(created - now) <= 5, "the library signs with the real clock"
    # Exact bytes: components as listed, parameters in the library's order created;keyid;alg;nonce.
    assert si == (f'kyukit=("@method" "@authority" "@path" "authorization" "content-digest");created={created};'
                  f'keyid="{world["device_id"]}";alg="{ALG}";nonce="q1bnbSZRk3FbxNhwcOcJWg"')
    parsed = http_sf.parse(sig.encode(), tltype="dictionary")
    assert list(parsed) == [LABEL] and isinstance(parsed[LABEL][0], bytes) and len(parsed[LABEL][0]) == 64
    assert re.fullmatch(r"kyukit=:[A-Za-z0-9+/]{86}==:", sig)
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ECDSA_P256_SHA256,
                                   key_resolver=MappingKeyResolver(public_keys={world["device_id"]: world["key"].public_key()}, private_keys={}))
    [result] = verifier.verify(req, body=body, expect_tag=None)
    authority = server.base.removeprefix("http://")
    assert result.covered_components == {
        '"@method"': "POST", '"@authority"': authority, '"@path"': "/api/v1/sessions",
        '"authorization"': "Bearer t0ken", '"content-digest"': content_digest(body),
        '"@signature-params"': si.removeprefix("kyukit=")}


def test_signed_login_and_scan(server, world, medic):
    r = send(sign(server, world, "POST", "/api/v1/scans", scan_body(world), token=medic))
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["kind"] == "scan" and d["card_id"] == world["card_id"] and d["categories"] == ["medications"]
    meds = [i["body"] for i in d["items"] if i["category"] == "medications"]
    assert [m["name"] for m in meds] == ["ワルファリン"] and meds[0]["dose"] == "2mg"
    assert all(i["category"] == "medications" for i in d["items"]), "conditions were not consented"


def test_signed_fhir_scan_is_an_r4_document_bundle(server, world, medic):
    r = send(sign(server, world, "POST", "/api/v1/scans", scan_body(world, "R8-0002"), token=medic, accept="application/fhir+json"))
    assert r.status_code == 201, r.text
    assert r.headers["content-type"].split(";")[0].strip() == "application/fhir+json"
    raw = r.json()
    bundle = Bundle.parse_obj(raw)
    assert bundle.resource_type == "Bundle" and bundle.type == "document"
    assert raw["entry"][0]["resource"]["resourceType"] == "Composition"
    for entry in raw["entry"]:
        get_fhir_model_class(entry["resource"]["resourceType"]).parse_obj(entry["resource"])
    meds = [e["resource"] for e in raw["entry"] if e["resource"]["resourceType"] == "MedicationStatement"]
    assert meds and "ワルファリン" in json.dumps(meds, ensure_ascii=False)
    assert not [e for e in raw["entry"] if e["resource"]["resourceType"] == "Condition"]


def test_the_same_signed_request_twice_is_a_replay(server, world, medic):
    req = sign(server, world, "POST", "/api/v1/scans", scan_body(world, "R8-0003"), token=medic)
    assert send(req).status_code == 201
    error(send(req), 401, "replayed_request")


def test_a_body_altered_after_signing_is_refused(server, world, medic):
    # The body changed, the signed Content-Digest left as it was.
    req = sign(server, world, "POST", "/api/v1/scans", scan_body(world, "R8-0004"), token=medic)
    req.prepare_body(scan_body(world, "R8-9999"), None)
    error(send(req), 401, "signature_invalid")
    # The body changed and Content-Digest recomputed to match it: the signature no longer covers it.
    req = sign(server, world, "POST", "/api/v1/scans", scan_body(world, "R8-0005"), token=medic)
    altered = scan_body(world, "R8-9998")
    req.prepare_body(altered, None)
    req.headers["Content-Digest"] = content_digest(altered)
    error(send(req), 401, "signature_invalid")


def test_a_signature_by_another_key_is_refused(server, world, medic):
    other = ec.generate_private_key(ec.SECP256R1())
    error(send(sign(server, world, "POST", "/api/v1/scans", scan_body(world, "R8-0006"), token=medic, key=other)), 401, "signature_invalid")
    body = json.dumps({"login_id": "medic1", "password": MEDIC_PASSWORD}).encode()
    error(send(sign(server, world, "POST", "/api/v1/sessions", body, key=other)), 401, "signature_invalid")


def test_an_unsigned_scan_is_refused(server, world, medic):
    r = requests.post(server.base + "/api/v1/scans", data=scan_body(world, "R8-0007"), timeout=10,
                      headers={"Content-Type": "application/json", "Authorization": "Bearer " + medic})
    error(r, 401, "signature_required")
