"""README command 1 from a fresh directory: `kyukit serve` with no configuration."""
import json
import os
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


def test_demo_data_admin_hint_and_admin_create(tmp_path):
    proc = subprocess.Popen([kyukit_bin(), "serve", "--listen", "127.0.0.1:0", "--demo"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not lines or not lines[-1].startswith("Stop with"):
            lines.append(proc.stdout.readline().strip())
            assert len(lines) < 40, lines
        text = "\n".join(lines)
        assert "demo login: demo-hanako / kyukit-demo-hanako" in text and "demo-john" in text and "demo-caremanager" in text
        assert "kyukit admin create" in text, "first start says how to create the first administrator"
        base = re.search(r"(http://127\.0\.0\.1:\d+)/healthz", text).group(1)
        with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
            assert b"kyukit_build_info" in r.read()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    env = dict(os.environ, KYUKIT_ADMIN_PASSWORD="a long admin password")
    r = subprocess.run([kyukit_bin(), "admin", "create", "--login-id", "admin", "--name", "常総市 管理者"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "created city_admin account admin" in r.stdout
    r = subprocess.run([kyukit_bin(), "admin", "create", "--login-id", "admin", "--name", "x"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
