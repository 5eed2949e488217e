"""The signed trust list (issue 22, docs/card-format.md §10) verified by implementations we did not
write: `cbor2` decodes the COSE_Sign1 and rebuilds its Sig_structure (RFC 9052 §4.4), `cryptography`
verifies the ES256 signature. First the documented test vector (its key is RFC 6979 §A.2.5's), then
the list a live `kyukit serve` publishes, against the key it publishes; a flipped byte fails both."""
import json
import pathlib
import urllib.request

import cbor2
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from conftest import run
from test_server_cards import Server

ROOT = pathlib.Path(__file__).resolve().parents[2]
RFC6979_D = 0xC9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721


def golden() -> bytes:
    """The vector as written in docs/card-format.md §10 (between its ``` fences)."""
    doc = (ROOT / "docs" / "card-format.md").read_text()
    section = doc.split("## 10. Trust list", 1)[1]
    block = section.split("### Test vector", 1)[1].split("```", 2)[1]
    return bytes.fromhex("".join(block.split()))


def verify(cose: bytes, public: ec.EllipticCurvePublicKey) -> dict:
    """Verifies a trust list; returns its claims map. Raises on any failure."""
    msg = cbor2.loads(cose)
    assert isinstance(msg, cbor2.CBORTag) and msg.tag == 18, "a tagged COSE_Sign1"
    protected, unprotected, payload, signature = msg.value
    header = cbor2.loads(protected)
    assert header[1] == -7 and set(header) == {1, 4}, header  # ES256, kid only
    assert unprotected == {}
    sig_structure = cbor2.dumps(["Signature1", protected, b"", payload])
    assert len(signature) == 64
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    public.verify(der, sig_structure, ec.ECDSA(hashes.SHA256()))
    claims = cbor2.loads(payload)
    assert claims[-65537] == 1, "format version"
    assert claims[-65539] == 2, "kind: trust list"
    return claims


def key_from_cose(k: dict) -> ec.EllipticCurvePublicKey:
    assert k[1] == 2 and k[3] == -7 and k[-1] == 1, k  # EC2, ES256, P-256
    return ec.EllipticCurvePublicNumbers(int.from_bytes(k[-2], "big"), int.from_bytes(k[-3], "big"), ec.SECP256R1()).public_key()


def test_documented_vector_verifies_and_says_what_the_doc_says():
    cose = golden()
    public = ec.derive_private_key(RFC6979_D, ec.SECP256R1()).public_key()
    claims = verify(cose, public)
    assert claims[1] == "qq.city.joso.lg.jp"  # iss: the deployment
    assert claims[6] == 1767225600 and claims[4] == 1767225600 + 7 * 86400
    assert claims[-65540] == 3  # the list's version
    deployment = claims[-65541]
    assert deployment[1] == "qq.city.joso.lg.jp" and deployment[6] == "jp-082163" and deployment[5] == []
    [issuer] = claims[-65542]
    assert issuer[1] == "jp-082163" and issuer[2] == "常総市" and issuer[3] == "Joso City"
    assert issuer[4] == "https://qq.city.joso.lg.jp/c/"
    assert [status for _, status in issuer[5]] == ["active", "compromised"]
    # The issuer keys are the P-256 keys of scalars 11…11 and 22…22, as COSE_Keys.
    for (k, _), d in zip(issuer[5], [0x11, 0x22]):
        expected = ec.derive_private_key(int.from_bytes(bytes([d]) * 32, "big"), ec.SECP256R1()).public_key()
        assert key_from_cose(k).public_numbers() == expected.public_numbers()
    # A different key does not verify it; neither does any flipped byte.
    with pytest.raises(InvalidSignature):
        verify(cose, ec.generate_private_key(ec.SECP256R1()).public_key())
    for i in range(0, len(cose), 7):
        bad = bytearray(cose)
        bad[i] ^= 0x01
        with pytest.raises(Exception):
            verify(bytes(bad), public)


def test_served_list_verifies_with_the_published_key(tmp_path):
    s = Server(tmp_path)
    try:
        jwk = s.call("GET", "/api/v1/trust-list/key")
        if isinstance(jwk, bytes):
            jwk = json.loads(jwk)
        assert jwk["kty"] == "EC" and jwk["crv"] == "P-256"
        b64 = lambda v: int.from_bytes(__import__("base64").urlsafe_b64decode(v + "=" * (-len(v) % 4)), "big")
        public = ec.EllipticCurvePublicNumbers(b64(jwk["x"]), b64(jwk["y"]), ec.SECP256R1()).public_key()
        with urllib.request.urlopen(s.base + "/api/v1/trust-list", timeout=10) as r:
            assert r.headers.get_content_type() == "application/cose"
            cose = r.read()
        claims = verify(cose, public)
        assert claims[1] == "qq.city.joso.lg.jp"
        assert claims[4] - claims[6] == 7 * 86400
        [issuer] = claims[-65542]
        assert issuer[4] == "https://qq.city.joso.lg.jp/c/" and issuer[7] == "qq.city.joso.lg.jp"
        # The issuer keys are the JWKS's, all active on a fresh server.
        jwks = s.call("GET", "/.well-known/jwks.json")
        if isinstance(jwks, bytes):
            jwks = json.loads(jwks)
        served = sorted(key_from_cose(k).public_numbers().x for k, st in issuer[5] if st == "active")
        assert served == sorted(b64(k["x"]) for k in jwks["keys"])
        # Federation (issue 22): the deployment's server keys slot holds one COSE_Key, the public
        # half of <data-dir>/server-key.pem.
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        [server_key] = claims[-65541][5]
        pem = (tmp_path / "data" / "server-key.pem").read_bytes()
        own = load_pem_private_key(pem, password=None).public_key()
        assert key_from_cose(server_key).public_numbers() == own.public_numbers()
        bad = bytearray(cose)
        bad[len(bad) // 2] ^= 0x40
        with pytest.raises(Exception):
            verify(bytes(bad), public)
    finally:
        s.stop()
    # The operator sees the same key id with `kyukit keys list`.
    listed = run("keys", "list", "--data-dir", tmp_path / "data")
    assert listed.returncode == 0, listed.stderr
    assert f"trust-list key {jwk['kid']} " in listed.stdout.decode()
