"""The household sticker (issue 27) checked by implementations we did not write: a live `kyukit
serve` makes a household; zxing-cpp decodes the sticker's QR PNG to its URL, the digits are unpacked
as docs/card-format.md says, and the COSE_Sign1 ES256 signature is verified with `cryptography`
over a Sig_structure built with `cbor2`, using nothing but the served JWKS. The claims carry no
personal data and are not a card's. The documented test vector verifies the same way."""
import json

import cbor2
import pytest
import zxingcpp
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from PIL import Image
from test_cards import cose_verify, digits_to_bytes, jwks_keys
from test_server_cards import Server

CLAIM_VERSION, CLAIM_KIND = -65537, -65539

# docs/card-format.md §9 (the RFC 6979 §A.2.5 P-256 test key).
VECTOR = bytes.fromhex(
    "d2844da2012604480cebf1bc9880748aa05830a501696a702d303832313633061a6955b9000750484848484848484848484848"
    "484848483a00010000013a0001000201584010f1e42f87bc802a4a37a5b201b75c9d706f9fa38f0ea7c6b6e0677f54c8f2cfd1"
    "78c904d3a9813bcbdea3d0b665894ac3f5623e7868374dba7454675b7b5c70")
TEST_KEY = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721


def check_sticker_claims(claims: dict):
    assert claims[CLAIM_VERSION] == 1
    assert claims[CLAIM_KIND] == 1, "kind: household sticker"
    assert isinstance(claims[7], bytes) and len(claims[7]) == 16, "cti: 128-bit household id"
    assert isinstance(claims[6], int), "iat"
    assert 4 not in claims, "no exp: a card verifier must refuse it"
    assert set(claims) <= {1, 6, 7, CLAIM_VERSION, CLAIM_KIND}, claims


def test_documented_vector_verifies_independently():
    pub = ec.derive_private_key(TEST_KEY, ec.SECP256R1()).public_key()
    claims = cose_verify(VECTOR, {bytes.fromhex("0cebf1bc9880748a"): pub})
    check_sticker_claims(claims)
    assert claims[7] == b"\x48" * 16 and claims[1] == "jp-082163" and claims[6] == 1767225600
    changed = bytearray(VECTOR)
    changed[-1] ^= 1
    with pytest.raises(InvalidSignature):
        cose_verify(bytes(changed), {bytes.fromhex("0cebf1bc9880748a"): pub})


def test_served_sticker_decodes_and_verifies_against_the_jwks(tmp_path):
    s = Server(tmp_path)
    try:
        reg = s.call("POST", "/api/v1/residents", body={"login_id": "hanako", "password": "correct horse battery", "profile": {
            "family_name": "山田", "given_name": "花子", "date_of_birth": "1941-04-03", "sex": "female",
            "address": "茨城県常総市", "preferred_language": "ja"}})
        rid, token = reg["resident_id"], reg["token"]
        h = s.call("POST", "/api/v1/households", token, {"resident_id": rid})
        png = tmp_path / "sticker.png"
        png.write_bytes(s.call("GET", f"/api/v1/households/{h['id']}/qr.png", token))
        found = zxingcpp.read_barcodes(Image.open(png), formats=zxingcpp.BarcodeFormat.QRCode)
        assert len(found) == 1 and found[0].text == h["url"]
        assert found[0].text.startswith("HTTPS://QQ.CITY.JOSO.LG.JP/H/")
        cose = digits_to_bytes(found[0].text.rsplit("/", 1)[1])
        keys = jwks_keys(json.loads(s.call("GET", "/.well-known/jwks.json")))
        claims = cose_verify(cose, keys)
        check_sticker_claims(claims)
        assert claims[7].hex() == h["id"]
        for word in ("山田", "花子", "常総", "1941"):
            assert word.encode() not in cbor2.dumps(claims)
        pdf = s.call("GET", f"/api/v1/households/{h['id']}/sticker.pdf", token)
        assert pdf.startswith(b"%PDF")
    finally:
        s.stop()
