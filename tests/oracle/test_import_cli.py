"""`kyukit residents import` as an operator runs it (issue 26): the register from
tests/tools/gen_register.py (10,000 rows, 1 % broken in known ways), a dry run, the import and a
re-run. The report names exactly the broken lines and columns; the time and a progress indicator
are printed; the re-run imports nothing."""
import json
import os
import re
import subprocess
import sys

from conftest import ROOT, run

GEN = ROOT / "tests" / "tools" / "gen_register.py"
LINE = re.compile(r"^line (\d+), column (\S+): (.+)$")
SUMMARY = re.compile(
    r"^(dry run \(nothing written\)|imported): (\d+) rows; (\d+) (?:would be imported|imported), (\d+) already imported or registered, (\d+) rejected; ([0-9.]+) s$"
)


def problems(stdout):
    return [(int(m.group(1)), m.group(2)) for m in map(LINE.match, stdout.splitlines()) if m]


def summary(stdout):
    found = [m for m in map(SUMMARY.match, stdout.splitlines()) if m]
    assert len(found) == 1, stdout[-2000:]
    m = found[0]
    return {"rows": int(m.group(2)), "imported": int(m.group(3)), "already": int(m.group(4)),
            "rejected": int(m.group(5)), "secs": float(m.group(6))}


def test_import_reports_exactly_the_broken_rows_and_never_imports_twice(tmp_path):
    csv_path = tmp_path / "register.csv"
    subprocess.run([sys.executable, GEN, "--rows", "10000", "--broken-percent", "1", "--seed", "26",
                    "--out", csv_path], check=True)
    expected = json.loads((tmp_path / "register.expected.json").read_text())
    want = [(b["line"], b["column"]) for b in expected["broken"]]
    assert len(want) == 100

    data = tmp_path / "data"
    env = dict(os.environ, KYUKIT_ADMIN_PASSWORD="a long admin password")
    r = run("admin", "create", "--data-dir", data, "--login-id", "clerk", "--name", "福祉課", env=env)
    assert r.returncode == 0, r.stderr

    args = ["residents", "import", "--data-dir", data, "--by", "clerk", "--csv", csv_path]
    dry = run(*args, "--dry-run")
    out = dry.stdout.decode()
    assert dry.returncode == 1, dry.stderr  # rows were rejected
    assert problems(out) == want
    s = summary(out)
    assert (s["rows"], s["imported"], s["already"], s["rejected"]) == (10000, 9900, 0, 100)
    print(f"dry run: {s['secs']} s")

    report = tmp_path / "problems.csv"
    done = run(*args, "--report", report)
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 1
    assert problems(out) == want
    s = summary(out)
    assert (s["imported"], s["already"], s["rejected"]) == (9900, 0, 100)
    assert "100 rows rejected" in err
    assert re.search(r"importing: 9900/9900 \(100 %\)", err), err  # progress (not a terminal)
    assert re.search(r"^import id: [0-9a-f]{32}$", out, re.M)
    print(f"import: {s['secs']} s")
    lines = report.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "line,column,reason" and len(lines) == 101

    again = run(*args)
    s = summary(again.stdout.decode())
    assert (s["imported"], s["already"], s["rejected"]) == (0, 9900, 100)
    assert problems(again.stdout.decode()) == want

    # The chain holds one event per imported resident (and the runs).
    v = run("audit", "verify", "--data-dir", data)
    assert v.returncode == 0, v.stderr
    assert int(re.search(r"(\d+) entries", v.stdout.decode()).group(1)) >= 9900


def test_a_file_that_is_not_utf8_or_names_an_unknown_column_is_refused_whole(tmp_path):
    data = tmp_path / "data"
    env = dict(os.environ, KYUKIT_ADMIN_PASSWORD="a long admin password")
    assert run("admin", "create", "--data-dir", data, "--login-id", "clerk", "--name", "x", env=env).returncode == 0
    sjis = tmp_path / "sjis.csv"
    sjis.write_bytes("form_number,consent_date,consent_by,family_name,given_name,date_of_birth,sex,address\nK-1,2026-04-01,本人,山田,花子,1941-05-12,女,常総市\n".encode("shift_jis"))
    r = run("residents", "import", "--data-dir", data, "--by", "clerk", "--csv", sjis)
    assert r.returncode == 1 and "not UTF-8" in r.stderr.decode()
    typo = tmp_path / "typo.csv"
    typo.write_text("form_number,consent_date,consent_by,family_name,given_name,date_of_birth,sex,address,telephone\n", encoding="utf-8")
    r = run("residents", "import", "--data-dir", data, "--by", "clerk", "--csv", typo)
    assert r.returncode == 1 and 'unknown column "telephone"' in r.stderr.decode()
    # Only a city administrator imports.
    r = run("residents", "import", "--data-dir", data, "--by", "nobody", "--csv", typo)
    assert r.returncode == 1 and "no active staff account" in r.stderr.decode()
