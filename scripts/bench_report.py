"""Turns the results of one scripts/bench.sh run into the markdown report (on stdout).

    python3 bench_report.py RESULTS_DIR --events 1000000,10000000

Every ratio is between two figures of that one run. A step that failed or was skipped shows as such.
"""

import argparse
import json
import os
import re
import sys

LOADED = re.compile(r"loaded in ([\d.]+)s \((\d+) events/s\)(?:, peak RSS (\d+) MiB \((\d+) bytes/event\))?")


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def status_runs(results, n, fmt):
    """The best `dbl status` run of a size and format: its "loaded in" line and wall time."""
    runs = []
    r = 1
    while os.path.exists(os.path.join(results, f"status-{n}-{fmt}-{r}.txt")):
        text = open(os.path.join(results, f"status-{n}-{fmt}-{r}.txt")).read()
        m = LOADED.search(text)
        wall = re.search(r"^wall ([\d.]+)", text, re.M)
        if m:
            runs.append({
                "load_s": float(m.group(1)),
                "rate": float(m.group(2)),
                "rss_mib": int(m.group(3)) if m.group(3) else None,
                "bytes_per_event": int(m.group(4)) if m.group(4) else None,
                "wall_s": float(wall.group(1)) if wall else None,
            })
        r += 1
    return min(runs, key=lambda x: x["load_s"]) if runs else None, len(runs)


def other_cpu(res):
    """CPU-seconds that processes other than this run's used during it, and the run's wall CPU-seconds."""
    def snapshot(name):
        lines = open(os.path.join(res, name)).read().split("\n")
        fields = [int(x) for x in lines[0].split()[1:]]
        tick = int(lines[1])
        busy = (sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)) / tick  # all but idle, iowait
        total = sum(fields) / tick
        ours = sum(minutes * 60 + seconds for minutes, seconds in
                   (map(float, m) for m in re.findall(r"(\d+)m([\d.]+)s", " ".join(lines[2:]))))
        return busy, total, ours
    try:
        (b0, t0, o0), (b1, t1, o1) = snapshot("cpu-start.txt"), snapshot("cpu-end.txt")
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, (b1 - b0) - (o1 - o0)), t1 - t0


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if values else None


def cli_lineage(res, n, fmt):
    """`dbl lineage --no-daemon` on one file: the median wall time, the runs, and instances downstream."""
    try:
        walls = [float(x) for x in open(os.path.join(res, f"lineage-{n}-{fmt}.wall")).read().split()]
        nodes = read_json(os.path.join(res, f"lineage-{n}-{fmt}.json"))["data"]["nodes"]
    except (OSError, TypeError, KeyError, ValueError):
        return None
    count = sum(1 for x in nodes if x.get("kind") == "partition" and x.get("hops", 0) > 0)
    return {"s": median(walls), "runs": len(walls), "count": count}


def duckdb_run(res, n):
    """The DuckDB run with the median time to first answer, and how many ran."""
    runs, r = [], 1
    while os.path.exists(os.path.join(res, f"duckdb-{n}-{r}.json")):
        d = read_json(os.path.join(res, f"duckdb-{n}-{r}.json"))
        if d:
            runs.append(d)
        r += 1
    if not runs:
        return None
    runs.sort(key=lambda d: d["first_answer_s"])
    return dict(runs[len(runs) // 2], runs=len(runs))


def t(s):
    if s is None:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms" if s < 0.1 else f"{s * 1e3:.0f} ms"
    return f"{s * 1e6:.1f} µs"


def rate(events, s):
    if not s:
        return ""
    r = events / s
    return f" ({r / 1e6:.2f}M events/s)"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    x = a / b
    if x >= 100:
        return f"**{x:,.0f}×**"
    return f"**{x:.1f}×**" if x >= 10 else f"**{x:.2f}×**"


def events_name(n):
    n = int(n)
    return f"{n // 1000000}M" if n % 1000000 == 0 else f"{n:,}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--events", required=True)
    args = parser.parse_args()
    res = args.results
    sizes = [int(n) for n in args.events.split(",")]
    start = read_json(os.path.join(res, "machine-start.json")) or {}
    end = read_json(os.path.join(res, "machine-end.json")) or {}
    failed = open(os.path.join(res, "failed.txt")).read().split("\n") if os.path.exists(os.path.join(res, "failed.txt")) else []
    failed = [f for f in failed if f]
    others = other_cpu(res)
    peers = {n: read_json(os.path.join(res, f"peers-{n}.json")) for n in sizes}
    duck = {n: duckdb_run(res, n) for n in sizes}
    cli = {(n, f): cli_lineage(res, n, f) for n in sizes for f in ("bel", "jsonl")}
    live = {n: read_json(os.path.join(res, f"live-{n}.json")) for n in sizes}
    status = {(n, f): status_runs(res, n, f) for n in sizes for f in ("bel", "jsonl")}
    out = []
    p = out.append
    mismatches = []

    p("# dbl against its limit and its peers")
    p("")
    p(f"`scripts/bench.sh --events {args.events}`, {start.get('date', '?')}, commit `{start.get('commit', '?')}`.")
    p(f"Machine: {start.get('cores', '?')} cores ({start.get('cpu', '?')}), {start.get('mem_gib', '?')} GiB; "
      f"load average (1, 5, 15 min) **{start.get('loadavg', '?')}** at the start, **{end.get('loadavg', '?')}** at the end"
      + (f"; other processes took **{others[0]:.0f} CPU-s of the run's {others[1]:.0f}** ({others[0] / others[1]:.0%} "
         f"of the machine)." if others else "."))
    duck_version = next((d["version"] for d in duck.values() if d), None)
    p(f"Logs: `dbl simulate --events N --seed 1`, binary and JSON lines. DuckDB {duck_version or '(not run)'} from PyPI.")
    p("Every ratio is between two figures of this run.")
    if failed:
        p("")
        p("**Failed steps:** " + "; ".join(failed) + " (their rows show —).")
    p("")

    # -- the limit ------------------------------------------------------------------------------------
    p("## The limit: decoding the same file")
    p("")
    p("Decode only: `log::load_file` with a sink that counts (both threads decoding, as when `dbl` loads), best of 3.")
    p("`dbl status`: its own `loaded in` figure and the whole process's wall time (best of 3 runs); peak RSS is its `VmHWM`.")
    p("")
    p("| events | format | measure | dbl | limit | dbl ÷ limit |")
    p("|---|---|---|---|---|---|")
    for n in sizes:
        pe = peers[n]
        for fmt, name in (("bel", "binary"), ("jsonl", "JSON lines")):
            st, _ = status[(n, fmt)]
            dec = pe["decode_only"][f"{fmt}_s"] if pe else None
            dec_cell = f"decode only {t(dec)}{rate(n, dec)}" if dec else "—"
            if st:
                p(f"| {events_name(n)} | {name} | `dbl status` load | {t(st['load_s'])}{rate(n, st['load_s'])} | {dec_cell} | {ratio(st['load_s'], dec)} |")
                p(f"| {events_name(n)} | {name} | whole `dbl status` process | {t(st['wall_s'])}{rate(n, st['wall_s'])} | {dec_cell} | {ratio(st['wall_s'], dec)} |")
                if st["bytes_per_event"] is not None:
                    per = pe[f"{fmt}_bytes"] / n if pe else None
                    limit = f"the file: {per:.0f} B" if per else "—"
                    p(f"| {events_name(n)} | {name} | peak RSS per event | {st['bytes_per_event']} B ({st['rss_mib']:,} MiB) "
                      f"| {limit} | {ratio(st['bytes_per_event'], per)} |")
            else:
                p(f"| {events_name(n)} | {name} | `dbl status` load | — | {dec_cell} | — |")
    p("")

    # -- databuild's own server -----------------------------------------------------------------------
    p("## databuild's own server: the state rebuilt from the log for every request")
    p("")
    p("dbl: a loaded state applies one event, then answers the request (the log's last 2,000 events, or a tenth of it; "
      "`bench_peers`, in process). Full replay: the release binary loads the binary log and answers the same request, "
      "`dbl lineage --no-daemon --direction downstream --depth 3 --fanout 1000 --format json UUID` (wall time of the "
      "process, median of 3; 1 above 10M events). The request: downstream lineage of the focus (below), depth 3.")
    p("")
    p("| events | per request | dbl: apply one event + query | full replay + query | replay ÷ dbl |")
    p("|---|---|---|---|---|")
    for n in sizes:
        pe, rep = peers[n], cli[(n, "bel")]
        if not pe or not rep:
            p(f"| {events_name(n)} | — | — | — | — |")
            continue
        inc = pe["incremental"]
        for q in ("p50", "p99"):
            p(f"| {events_name(n)} | {q} of {inc['requests']:,} | {t(inc[q + '_s'])} | {t(rep['s'])} | {ratio(rep['s'], inc[q + '_s'])} |")
    p("")

    # -- SQLite ---------------------------------------------------------------------------------------
    p("## The Marquez way: SQLite, indexed tables, recursive CTEs")
    p("")
    p("SQLite (rusqlite, bundled) in a file on disk (journal off, synchronous off, 512 MiB page cache), one transaction, "
      "prepared statements: job runs, partition instances and consumer edges with their indexes, each read resolved by "
      "query at success time as DESIGN says. It derives less than dbl (no want statuses, retry chains, derivative wants "
      "or status history), so the ratio flatters it. dbl's ingest is `dbl status`'s load of the same file (best of 3). "
      "Lineage: downstream of the focus at each depth — dbl answers `views::lineage` (nodes, edges, the whole index), "
      "SQLite a `count(DISTINCT)` of a recursive CTE; median of repeated queries.")
    p("")
    p("| events | measure | dbl | SQLite | SQLite ÷ dbl |")
    p("|---|---|---|---|---|")
    for n in sizes:
        pe = peers[n]
        sq = pe.get("sqlite") if pe else None
        if not sq:
            p(f"| {events_name(n)} | — | — | — | — |")
            continue
        st, _ = status[(n, "bel")]
        ingest = st["load_s"] if st else None
        p(f"| {events_name(n)} | ingest the binary log | {t(ingest)}{rate(n, ingest)} | {t(sq['ingest_s'])}{rate(n, sq['ingest_s'])} | {ratio(sq['ingest_s'], ingest)} |")
        for d, s in zip(pe["lineage"], sq["lineage"]):
            cut = ", a list cut at 1000" if d["truncated"] else ""
            p(f"| {events_name(n)} | lineage, depth {d['depth']} ({d['count']:,} downstream{cut}) | {t(d['s'])} | {t(s['s'])} ({s['count']:,}) | {ratio(s['s'], d['s'])} |")
        if st and st["bytes_per_event"] is not None:
            p(f"| {events_name(n)} | size: dbl peak RSS vs SQLite file | {st['bytes_per_event']} B/event | "
              f"{sq['db_bytes'] / n:.0f} B/event | {ratio(sq['db_bytes'] / n, st['bytes_per_event'])} |")
    p("")

    # -- DuckDB ---------------------------------------------------------------------------------------
    p("## The analyst's way: DuckDB on the JSON-lines log")
    p("")
    p("`scripts/bench_duckdb.py`: `read_json` of the log (the columns lineage needs), lineage edges built in SQL "
      "(reads resolved to the newest instance whose run succeeded before, else External), then a recursive CTE. "
      "Time to first answer: read + edges + the depth-3 downstream lineage, in the Python process (median of 3 runs). "
      "dbl's: the whole `dbl lineage --no-daemon` process on the same JSON-lines file, the same request (median of 3). "
      "Query only: median of 5 (DuckDB), of repeated `views::lineage` calls (dbl).")
    p("")
    p("| events | measure | dbl | DuckDB | DuckDB ÷ dbl |")
    p("|---|---|---|---|---|")
    for n in sizes:
        pe, du, js = peers[n], duck[n], cli[(n, "jsonl")]
        if not pe or not du:
            p(f"| {events_name(n)} | — | — | — | — |")
            continue
        first = js["s"] if js else None
        p(f"| {events_name(n)} | time to first answer | {t(first)} | "
          f"{t(du['first_answer_s'])} (read {t(du['read_s'])}, edges {t(du['edges_s'])}) | {ratio(du['first_answer_s'], first)} |")
        for d, q in zip(pe["lineage"], du["lineage"]):
            p(f"| {events_name(n)} | lineage, depth {d['depth']} | {t(d['s'])} ({d['count']:,}) | {t(q['s'])} ({q['count']:,}) | {ratio(q['s'], d['s'])} |")
    p("")
    p("**Do the answers agree?** Instances downstream of the focus (an External `raw/customers` partition read after "
      "the log's midpoint, chosen by `bench_peers`), and the whole graph's consumer edges:")
    p("")
    for n in sizes:
        pe, du = peers[n], duck[n]
        if not pe:
            continue
        sq = pe.get("sqlite")
        counts = {"dbl": [d["count"] for d in pe["lineage"]]}
        if sq:
            counts["SQLite"] = [d["count"] for d in sq["lineage"]]
        if du:
            counts["DuckDB"] = [d["count"] for d in du["lineage"]]
        depths = "/".join(str(d["depth"]) for d in pe["lineage"])
        agree = len({tuple(v) for v in counts.values()}) == 1
        line = f"- {events_name(n)}, focus `{pe['focus']['ref']}`, depths {depths}: " + ", ".join(
            f"{k} {'/'.join(map(str, v))}" for k, v in counts.items())
        if sq and du:
            line += f"; consumer edges: SQLite {sq['edges']:,}, DuckDB {du['edges']:,}"
            agree = agree and sq["edges"] == du["edges"]
        for fmt, name in (("bel", "binary"), ("jsonl", "JSON lines")):
            c = cli[(n, fmt)]
            if c:
                line += f"; `dbl lineage` at depth 3 from {name} {c['count']}"
                agree = agree and c["count"] == pe["lineage"][1]["count"]
        if agree:
            line += ": **agree**."
        else:
            line += ": **MISMATCH — the peers do not give the same answer.**"
            mismatches.append(line)
        p(line)
    p("")

    # -- live -----------------------------------------------------------------------------------------
    p("## Live: the daemon while the log grows and clients query")
    p("")
    any_live = next((lv for lv in live.values() if lv), None)
    if any_live:
        p(f"`examples/bench_live.rs` against the release `dbl serve --stdio --listen` following a copy of the binary log. "
          f"Quiet: one editor hovering, one WebSocket client asking lineage and subscribed, an append every 100 ms "
          f"({any_live['quiet_s']:.0f} s). Busy: an append every {any_live['append_ms']} ms, {any_live['clients']} "
          f"WebSocket clients subscribed to every change, each asking lineage in a loop, the editor hovering and polling "
          f"`databuild/status` every {any_live['status_ms'] / 1000:.0f} s ({any_live['busy_s']:.0f} s). Hover and lineage "
          f"alternate between the hottest source (`{any_live['hot_ref']}`) and a report partition, each client pausing "
          f"20 ms between answers; lineage is the default request (depth 3 both ways, fan-out 25). Append → visible: "
          f"from writing the record to each subscriber's `changed` notice.")
    else:
        p("*Not run (`--skip live`), or it failed.*")
    p("")
    p("| events | measure | quiet p50 / p99 | busy p50 / p99 (n) | busy p99 ÷ quiet p99 | target p99 | busy p99 ÷ target |")
    p("|---|---|---|---|---|---|---|")
    rows = [("hover_hot", "hover, hottest source", 5e-3), ("hover_built", "hover, a report partition", 5e-3),
            ("lineage_hot", "lineage, hottest source", None), ("lineage_built", "lineage, a report partition", None),
            ("append_visible", "append → visible", 5e-3), ("status", "`databuild/status` (the editor's poll)", None)]
    for n in sizes:
        lv = live[n]
        if not lv:
            p(f"| {events_name(n)} | — | — | — | — | — | — |")
            continue
        for key, name, target in rows:
            q, b = lv["phases"]["quiet"].get(key), lv["phases"]["busy"].get(key)
            qc = f"{t(q['p50_s'])} / {t(q['p99_s'])}" if q else "—"
            bc = f"{t(b['p50_s'])} / {t(b['p99_s'])} ({b['n']:,})" if b else "—"
            p(f"| {events_name(n)} | {name} | {qc} | {bc} | {ratio(b and b['p99_s'], q and q['p99_s'])} | "
              f"{t(target) if target else '—'} | {ratio(b and b['p99_s'], target) if target else '—'} |")
    for n in sizes:
        lv = live[n]
        if lv:
            p(f"\n{events_name(n)}: the daemon loaded the log in {t(lv['daemon_load_s'])}; "
              f"{lv['events_applied_at_end'] - lv['events'] if lv['events_applied_at_end'] else '?'} events appended; "
              f"{lv['lagged_notices']} `lagged` notices; failures: {'; '.join(lv['failures']) or 'none'}.")
    lock = read_json(os.path.join(res, "lock.json"))
    if lock:
        p("")
        p(f"The state's lock (`examples/bench_lock.rs`): a hover reads every 1 ms while a view reads for "
          f"{lock['view_ms']:g} ms at a time (1 ms apart) and a write of {lock['write_us']:g} µs comes every "
          f"{lock['append_ms']:g} ms, {lock['seconds']:g} s each; `StateLock` against a plain `RwLock` in the same run.")
        p("")
        p("| wait | plain `RwLock` p50 / p99 / max | `StateLock` p50 / p99 / max | p99, plain ÷ `StateLock` |")
        p("|---|---|---|---|")
        for key, name in (("short_read_wait", "a hover's (short read)"), ("write_wait", "the ingest thread's (write)")):
            a, b = lock["plain_rwlock"][key], lock["state_lock"][key]
            cell = lambda x: f"{t(x['p50_us'] / 1e6)} / {t(x['p99_us'] / 1e6)} / {t(x['max_us'] / 1e6)}"
            p(f"| {name} | {cell(a)} | {cell(b)} | {ratio(a['p99_us'], b['p99_us'])} |")
    p("")

    # -- targets --------------------------------------------------------------------------------------
    p("## Issue 13's targets (set for the 10M-event log)")
    p("")
    p("| target | events | measured | met |")
    p("|---|---|---|---|")

    def row(target, n, value, ok):
        p(f"| {target} | {events_name(n)} | {value} | {'yes' if ok else '**no**'} |")

    for n in sizes:
        st, _ = status[(n, "bel")]
        sj, _ = status[(n, "jsonl")]
        pe, du, lv = peers[n], duck[n], live[n]
        if st and st["wall_s"]:
            row("binary load, whole `dbl status` ≥ 2.5M events/s", n, f"{n / st['wall_s'] / 1e6:.2f}M/s", n / st["wall_s"] >= 2.5e6)
        if st and st["bytes_per_event"] is not None:
            row("peak RSS ≤ 150 bytes/event", n, f"{st['bytes_per_event']} B ({st['rss_mib']:,} MiB)", st["bytes_per_event"] <= 150)
        if st and pe:
            x = st["wall_s"] / pe["decode_only"]["bel_s"]
            row("binary load within 2× of decode only", n, f"{x:.2f}×", x <= 2)
        if sj and sj["wall_s"]:
            row("JSON lines, whole `dbl status` ≥ 2M events/s", n, f"{n / sj['wall_s'] / 1e6:.2f}M/s", n / sj["wall_s"] >= 2e6)
        js = cli[(n, "jsonl")]
        if js and du:
            row("JSON lines first answer faster than DuckDB's", n, f"{t(js['s'])} vs {t(du['first_answer_s'])}",
                js["s"] < du["first_answer_s"])
        if lv:
            for key, name in (("hover_hot", "busy hover p99 ≤ 5 ms (hottest source)"), ("hover_built", "busy hover p99 ≤ 5 ms (report partition)"),
                              ("append_visible", "busy append → visible p99 ≤ 5 ms")):
                b = lv["phases"]["busy"].get(key)
                if b:
                    row(name, n, t(b["p99_s"]), b["p99_s"] <= 5e-3)
        if n >= 100000000 and st:
            p(f"| 100M events loaded | {events_name(n)} | {t(st['wall_s'])}, {st['rss_mib']:,} MiB | yes |")
    p("")

    text = "\n".join(out)
    print(text)
    for m in mismatches:
        print(f"bench_report: {m}", file=sys.stderr)


if __name__ == "__main__":
    main()
