"""kill -9 during writes loses nothing that was answered 2xx: short runs of bench/crash_writes.py
(dataset writes) and of `kyukit-bench crash` (mixed writes, with the audit chain and the
database's integrity checked); the 1,000-cycle numbers are in docs/scaling.md."""
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


def bench_bin():
    path = os.environ.get("KYUKIT_BENCH_BIN", str(ROOT / "target" / "debug" / "kyukit-bench"))
    assert os.path.exists(path), f"{path}: build it first (cargo build -p kyukit-bench)"
    return path


def crash_cycles(tmp_path, *extra):
    """10 cycles of `kyukit-bench crash` (signed scans, dataset writes and deletions, consents;
    the 1,000-cycle runs are in docs/scaling.md): nothing acknowledged lost, the audit chain and the
    database's own integrity check pass twice."""
    r = subprocess.run([bench_bin(), "crash", "--kyukit", kyukit_bin(), "--data-dir", str(tmp_path / "data"),
                        "--cycles", "10", "--check-every", "5", "--devices", "2", "--residents", "4",
                        "--writers", "4", *extra], capture_output=True, text=True, timeout=600)
    print(r.stdout, r.stderr)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = r.stdout.splitlines()[-1]
    assert "10 kill -9 cycles" in summary and ", 0 lost; 2 integrity checks, 0 failed" in summary, summary
    assert " scans" in summary and "audit log verifies" in summary, summary


def test_sqlite_kill_9_mixed_writes(tmp_path):
    crash_cycles(tmp_path)


def test_postgres_kill_9_mixed_writes(tmp_path):
    base = os.environ.get("KYUKIT_TEST_PG_URL")
    if not base:
        assert not os.environ.get("KYUKIT_REQUIRE_PG"), "PostgreSQL required"
        return
    name = "crashmix_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", base, "-qc", f"CREATE DATABASE {name}"], check=True)
    crash_cycles(tmp_path, "--database-url", base.replace("/postgres?", f"/{name}?", 1))
