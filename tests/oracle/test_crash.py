"""kill -9 during a burst of dataset writes loses nothing that was answered 2xx (short run of
bench/crash_writes.py; the long run's numbers are in the issue notes)."""
import os
import subprocess
import sys
import uuid

from conftest import ROOT, kyukit_bin


def crash(*extra):
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "crash_writes.py"), "--cycles", "3", "--bin", kyukit_bin(), *extra], capture_output=True, text=True, timeout=600)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    assert " 0 lost" in r.stdout.splitlines()[-1]


def test_sqlite_kill_9():
    crash()


def test_postgres_kill_9():
    base = os.environ.get("KYUKIT_TEST_PG_URL")
    if not base:
        assert not os.environ.get("KYUKIT_REQUIRE_PG"), "PostgreSQL required"
        return
    name = "crash_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", base, "-qc", f"CREATE DATABASE {name}"], check=True)
    crash("--database-url", base.replace("/postgres?", f"/{name}?", 1))
