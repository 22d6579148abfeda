#!/usr/bin/env python3
"""The shared daemon on a large log, measured as editors and CLIs use it (issue 12's targets):

- RSS of one standalone `dbl serve --stdio` against three editor sessions through
  `dbl serve --stdio --remote auto` (the daemon's RSS plus each forwarder's);
- how long the second and third sessions take to answer `databuild/status` loaded;
- `dbl want ID` while the daemon runs;
- a daemon restarted after 1,000 events were appended while none ran: time until it answers with
  every event applied, and whether its digest equals a cold load's.

Usage: scripts/bench_shared_daemon.py DBL LOG [WANT_ID]. LOG must be a simulated binary log of
N events (`dbl simulate --events N --seed 1`); the script simulates N + 1000 for the appended part.
Prints a markdown table. Private runtime and cache directories; every process it starts is stopped.
"""
import json
import re
import os
import shutil
import subprocess
import sys
import tempfile
import time


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Lsp:
    """A language-server client over a child's stdio, as an editor runs one."""

    def __init__(self, args, env):
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.next_id = 0

    def send(self, message):
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def receive(self):
        length = None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the server closed its stdout")
            if line in (b"\r\n", b"\n"):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        return json.loads(self.proc.stdout.read(length))

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        while True:
            message = self.receive()
            if message.get("id") == self.next_id and "method" not in message:
                return message.get("result")

    def ready(self):
        """initialize, then status until loaded: what an editor waits for before its first hover."""
        self.request("initialize", {"capabilities": {}})
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        while True:
            status = self.request("databuild/status", {})
            if status and not status.get("loading") and status.get("digest"):
                return status
            time.sleep(0.01)

    def close(self):
        try:
            self.request("shutdown", None)
            self.send({"jsonrpc": "2.0", "method": "exit"})
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def main():
    dbl, log = sys.argv[1], os.path.abspath(sys.argv[2])
    want = sys.argv[3] if len(sys.argv) > 3 else None
    work = tempfile.mkdtemp(prefix="dbl-shared-")
    runtime, cache = os.path.join(work, "run"), os.path.join(work, "cache")
    os.makedirs(runtime, mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=runtime, XDG_CACHE_HOME=cache)
    # A copy: the restart appends to it.
    copy = os.path.join(work, os.path.basename(log))
    shutil.copyfile(log, copy)
    rows = []
    try:
        started = time.monotonic()
        alone = Lsp([dbl, "serve", "--stdio", "--log", copy], env)
        status = alone.ready()
        events = status["eventsApplied"]
        alone_secs = time.monotonic() - started
        alone_rss = rss_mib(alone.proc.pid)
        alone.close()
        rows.append(("one standalone server: ready", f"{alone_secs:.2f} s", "", ""))
        rows.append(("one standalone server: RSS", f"{alone_rss:.0f} MiB", "", ""))

        sessions, ready = [], []
        for i in range(3):
            started = time.monotonic()
            session = Lsp([dbl, "serve", "--stdio", "--remote", "auto", "--log", copy], env)
            session.ready()
            ready.append(time.monotonic() - started)
            sessions.append(session)
        daemons = json.loads(subprocess.run([dbl, "daemon", "status", "--format", "json"], env=env, capture_output=True, check=True).stdout)
        daemon_pid = daemons[0]["pid"]
        total = rss_mib(daemon_pid) + sum(rss_mib(s.proc.pid) for s in sessions)
        rows.append(("first session through the daemon: ready (starts it, cold load)", f"{ready[0]:.2f} s", "", ""))
        rows.append(("second session: ready", f"{ready[1]:.3f} s", "≤ 0.5 s", f"{ready[1] / 0.5:.2f}×"))
        rows.append(("third session: ready", f"{ready[2]:.3f} s", "≤ 0.5 s", f"{ready[2] / 0.5:.2f}×"))
        rows.append(
            ("three sessions: daemon + forwarders RSS", f"{total:.0f} MiB", f"≤ 1.3 × {alone_rss:.0f} MiB", f"{total / alone_rss:.2f}× one server")
        )
        if want:
            times = []
            for _ in range(5):
                started = time.monotonic()
                subprocess.run([dbl, "want", want, "--log", copy], env=env, capture_output=True, check=True)
                times.append(time.monotonic() - started)
            times.sort()
            rows.append((f"`dbl want {want}` with the daemon running (median of 5)", f"{times[2]:.3f} s", "≤ 0.3 s", f"{times[2] / 0.3:.2f}×"))
        for s in sessions:
            s.close()
        subprocess.run([dbl, "daemon", "stop", "--log", copy], env=env, capture_output=True, check=True)

        # 1,000 events appended while no daemon runs; then a daemon is started by hand.
        longer = os.path.join(work, "longer.bel")
        subprocess.run([dbl, "simulate", "--out", longer, "--events", str(events + 1000), "--seed", "1"], capture_output=True, check=True)
        with open(longer, "rb") as src, open(copy, "ab") as dst:
            src.seek(os.path.getsize(copy))
            shutil.copyfileobj(src, dst)
        os.remove(longer)
        started = time.monotonic()
        daemon_log = open(os.path.join(work, "daemon.log"), "w")
        daemon = subprocess.Popen([dbl, "daemon", "--log", copy], env=dict(env, RUST_LOG="info"), stderr=daemon_log)
        # Listed once its socket is up; until then `dbl status` would load the log itself. Polled every
        # 50 ms: polling harder takes the cores the daemon is loading on.
        while not json.loads(subprocess.run([dbl, "daemon", "status", "--format", "json"], env=env, capture_output=True).stdout or b"[]"):
            time.sleep(0.05)
        deadline = time.monotonic() + 120
        while True:
            out = subprocess.run([dbl, "status", "--log", copy, "--format", "json"], env=env, capture_output=True)
            status = json.loads(out.stdout or b"null")
            if status and status.get("eventsApplied") == events + 1000 and status.get("tail", {}).get("pollMs"):
                break
            if time.monotonic() > deadline:
                daemon_log.flush()
                raise RuntimeError("the restarted daemon never answered; its log:\n" + open(daemon_log.name).read())
            time.sleep(0.05)
        restart = time.monotonic() - started
        from_snapshot = status["tail"].get("snapshotEvents")
        cold = json.loads(subprocess.run([dbl, "status", "--log", copy, "--format", "json", "--no-daemon"], env=env, capture_output=True, check=True).stdout)
        same = "equal" if cold["digest"] == status["digest"] else "DIFFERENT"
        rows.append((f"restart after 1,000 appended events: ready (from a snapshot of {from_snapshot} events)", f"{restart:.2f} s", "≤ 1.5 s", f"{restart / 1.5:.2f}×"))
        rows.append(("restarted daemon's digest vs a cold load", same, "equal", ""))
        daemon_log.flush()
        said = open(daemon_log.name).read()
        restored = re.search(r"started from snapshot .*: (\d+) events in ([0-9.]+)s", said)
        caught_up = re.search(r"loaded (\d+) events from .* in ([0-9.]+)s", said)
        if restored and caught_up:
            rows.append(("… of which, in the daemon's log: snapshot read, then the appended events", f"{restored[2]} s + {caught_up[2]} s", "", ""))
        subprocess.run([dbl, "daemon", "stop", "--log", copy], env=env, capture_output=True)
        daemon.wait(timeout=30)
    finally:
        subprocess.run([dbl, "daemon", "stop", "--log", copy], env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()
    print(f"Shared daemon on {os.path.basename(log)} ({events:,} events), {os.cpu_count()} cores, load average {load[0]:.2f}\n")
    print("| measure | ours | target | ratio |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
