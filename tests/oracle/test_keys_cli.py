"""`kyukit keys rotate | compromised | list` against a data directory, through the binary."""
import json

from conftest import run


def test_rotate_then_compromise(tmp_path):
    data = tmp_path / "data"
    r = run("keys", "list", "--data-dir", data)
    assert r.returncode == 0, r.stderr
    first = r.stdout.decode().split()[0]
    r = run("keys", "rotate", "--data-dir", data)
    assert r.returncode == 0, r.stderr
    rows = [line.split("\t") for line in r.stdout.decode().splitlines() if "\t" in line]
    assert {(k, s) for k, s, _ in rows} >= {(first, "retired")}
    assert sum(1 for _, s, _ in rows if s == "active") == 1
    r = run("keys", "compromised", "--data-dir", data, "--kid", first)
    assert r.returncode == 0, r.stderr
    assert (first, "compromised") in {(k, s) for k, s, _ in (line.split("\t") for line in r.stdout.decode().splitlines() if "\t" in line)}
    r = run("keys", "compromised", "--data-dir", data, "--kid", "AAAAAAAAAAA")
    assert r.returncode == 1 and len(r.stderr.decode().strip().splitlines()) == 1
    assert len(list((data / "keys").glob("*.pem"))) == 2
