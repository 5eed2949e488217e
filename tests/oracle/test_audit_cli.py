"""`kyukit audit verify` on a real data directory, tampered with through Python's own sqlite3."""
import json
import re
import sqlite3
import subprocess
import urllib.request

from conftest import kyukit_bin, run


def activity(data):
    proc = subprocess.Popen([kyukit_bin(), "serve", "--listen", "127.0.0.1:0", "--data-dir", data], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = None
        while base is None:
            m = re.search(r"(http://127\.0\.0\.1:\d+)/healthz", proc.stdout.readline())
            base = m and m.group(1)

        def post(path, body, token=None):
            req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"})
            if token:
                req.add_header("authorization", "Bearer " + token)
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.load(r)

        reg = post("/api/v1/residents", {"login_id": "audit.me", "password": "correct horse battery", "profile": {
            "family_name": "監査", "given_name": "太郎", "date_of_birth": "1950-01-01", "sex": "male", "address": "常総市", "preferred_language": "ja"}})
        for i in range(3):
            post(f"/api/v1/residents/{reg['resident_id']}/dataset", {"category": "conditions", "body": {"name": f"病名{i}"}}, reg["token"])
    finally:
        proc.terminate()
        proc.wait(10)


def verify(data, *extra):
    return run("audit", "verify", "--data-dir", data, *extra)


def test_audit_verify_names_the_first_bad_entry(tmp_path):
    data = tmp_path / "data"
    activity(data)
    ok = verify(data)
    assert ok.returncode == 0, ok.stderr
    n = int(re.search(rb"(\d+) entries", ok.stdout).group(1))
    head = run("audit", "head", "--data-dir", data).stdout.decode().strip()
    assert head.startswith(f"{n}:")
    db = sqlite3.connect(data / "kyukit.db")

    db.execute("UPDATE audit_events SET detail = 'nothing to see' WHERE seq = 3")
    db.commit()
    r = verify(data)
    assert r.returncode == 1 and b"entry 3" in r.stderr and b"edited" in r.stderr, r.stderr
    db.execute("UPDATE audit_events SET detail = (SELECT detail FROM audit_events WHERE seq = 4) WHERE seq = 3")
    db.commit()
    assert verify(data).returncode == 1

    fresh = tmp_path / "fresh"
    activity(fresh)
    db = sqlite3.connect(fresh / "kyukit.db")
    db.execute("DELETE FROM audit_events WHERE seq = 2")
    db.commit()
    r = verify(fresh)
    assert r.returncode == 1 and b"entry 2" in r.stderr and b"missing" in r.stderr, r.stderr

    third = tmp_path / "third"
    activity(third)
    head = run("audit", "head", "--data-dir", third).stdout.decode().strip()
    last = int(head.split(":")[0])
    db = sqlite3.connect(third / "kyukit.db")
    prev = db.execute("SELECT hash FROM audit_events WHERE seq = ?", (last - 1,)).fetchone()[0]
    db.execute("DELETE FROM audit_events WHERE seq = ?", (last,))
    db.execute("UPDATE audit_heads SET seq = ?, hash = ?", (last - 1, prev))
    db.commit()
    assert verify(third).returncode == 0, "self-consistent after a careful truncation"
    r = verify(third, "--head", head)
    assert r.returncode == 1 and b"truncated" in r.stderr, r.stderr
