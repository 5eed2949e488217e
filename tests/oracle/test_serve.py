"""README command 1 from a fresh directory: `kyukit serve` with no configuration."""
import json
import re
import subprocess
import urllib.request

from conftest import kyukit_bin


def test_serve_with_no_configuration_creates_keys_and_serves(tmp_path):
    proc = subprocess.Popen([kyukit_bin(), "serve", "--listen", "127.0.0.1:0"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = None
        for _ in range(10):
            line = proc.stdout.readline()
            m = re.search(r"(http://127\.0\.0\.1:\d+)/healthz", line)
            if m:
                base = m.group(1)
                break
        assert base, "serve printed its health URL"
        with urllib.request.urlopen(base + "/healthz", timeout=10) as r:
            assert r.status == 200
        with urllib.request.urlopen(base + "/.well-known/jwks.json", timeout=10) as r:
            keys = json.load(r)["keys"]
        assert any(k["kty"] == "EC" and k["crv"] == "P-256" for k in keys)
        pems = list((tmp_path / "kyukit-data" / "keys").glob("*.pem"))
        assert len(pems) == 1 and (pems[0].stat().st_mode & 0o777) == 0o600
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert "PRIVATE KEY" not in err, "the private key is never logged"
