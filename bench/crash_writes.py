#!/usr/bin/env python3
"""kill -9 the server during a burst of dataset writes; check that no write answered 2xx is lost.

Usage: bench/crash_writes.py [--cycles N] [--writers W] [--database-url postgres://...] [--bin target/debug/kyukit]
Each cycle: start `kyukit serve` (port 0) on one data directory / database, register a resident, run W
writer threads posting dataset items as fast as they can, SIGKILL the server at a random moment,
restart it, and read the dataset back. Prints one line per cycle and a total; exits 1 on any loss.
Only loopback traffic; bounded by --cycles.
"""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

CATEGORIES = ["medications", "conditions", "allergies", "devices", "emergency_contacts"]


def body(category, tag):
    return {
        "medications": {"name": tag},
        "conditions": {"name": tag},
        "allergies": {"substance": tag, "severity": "mild"},
        "devices": {"kind": "other", "description": tag},
        "emergency_contacts": {"name": tag, "relation": "家族", "phone": "090-0000-0000"},
    }[category]


def call(base, method, path, token=None, payload=None, timeout=10):
    data = json.dumps(payload).encode() if payload is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.loads(r.read() or b"null")


def start(binary, data_dir, env):
    proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    for _ in range(50):
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+)/healthz", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    raise RuntimeError("server did not start")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--database-url")
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "target", "debug", "kyukit"))
    a = ap.parse_args()
    env = dict(os.environ)
    if a.database_url:
        env["DATABASE_URL"] = a.database_url
    data_dir = tempfile.mkdtemp(prefix="kyukit-crash-")
    total_acked = total_lost = 0
    for cycle in range(a.cycles):
        proc, base = start(a.bin, data_dir, env)
        _, reg = call(base, "POST", "/api/v1/residents", payload={
            "login_id": f"crash{cycle}.{random.getrandbits(32):x}", "password": "crash test password",
            "profile": {"family_name": "試験", "given_name": "太郎", "date_of_birth": "1940-01-01", "sex": "male",
                        "address": f"常総市 試験{cycle}", "preferred_language": "ja"}})  # one person per cycle (a same-person registration is held: issue 19)
        rid, token = reg["resident_id"], reg["token"]
        acked, lock, stop = [], threading.Lock(), threading.Event()

        def writer(w):
            n = 0
            while not stop.is_set() and n < 50:
                category = CATEGORIES[(w + n) % len(CATEGORIES)]
                tag = f"c{cycle}w{w}n{n}"
                n += 1
                try:
                    status, _ = call(base, "POST", f"/api/v1/residents/{rid}/dataset", token, {"category": category, "body": body(category, tag)}, timeout=5)
                    if 200 <= status < 300:
                        with lock:
                            acked.append(tag)
                except (urllib.error.URLError, ConnectionError, OSError, TimeoutError):
                    return  # the server died: this write was not acknowledged

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(a.writers)]
        for t in threads:
            t.start()
        time.sleep(random.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stop.set()
        for t in threads:
            t.join()
        proc, base = start(a.bin, data_dir, env)
        _, items = call(base, "GET", f"/api/v1/residents/{rid}/dataset", token)
        stored = {json.dumps(i["body"], ensure_ascii=False) for i in items["items"]}
        lost = [t for t in acked if not any(f'"{t}"' in s for s in stored)]
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        total_acked += len(acked)
        total_lost += len(lost)
        print(f"cycle {cycle + 1}: {len(acked)} writes acknowledged before kill -9, {len(items['items'])} stored, {len(lost)} lost")
    backend = "postgresql" if a.database_url else "sqlite"
    print(f"crash_writes: {a.cycles} kill -9 cycles on {backend}: {total_acked} acknowledged writes, {total_lost} lost")
    sys.exit(1 if total_lost else 0)


if __name__ == "__main__":
    main()
