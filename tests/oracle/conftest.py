"""Shared fixtures: the kyukit binary and sample cards made by it."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BASE_URL = "https://qq.city.joso.lg.jp/c/"


def kyukit_bin() -> str:
    path = os.environ.get("KYUKIT_BIN", str(ROOT / "target" / "debug" / "kyukit"))
    if not os.path.exists(path):
        pytest.exit(f"kyukit binary not found at {path}; build it first (cargo build)", returncode=2)
    return path


def run(*args, **kw):
    return subprocess.run([kyukit_bin(), *map(str, args)], capture_output=True, timeout=60, **kw)


@pytest.fixture(scope="session")
def cards(tmp_path_factory):
    """A pointer card and a triage card signed by one generated key."""
    out = {}
    key = None
    for kind, extra in [("pointer", []), ("triage", ["--triage-core", "--blood-type", "O-", "--flags", "anticoagulant,severe_allergy,acp,implanted_device,insulin,epilepsy"])]:
        d = tmp_path_factory.mktemp(kind)
        args = ["card", "sample", "--out", d, "--base-url", BASE_URL, *extra]
        if key:
            args += ["--key", key]
        r = run(*args)
        assert r.returncode == 0, r.stderr
        key = key or d / "key.pem"
        out[kind] = d
    out["key"] = key
    return out
