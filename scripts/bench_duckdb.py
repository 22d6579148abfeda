"""The analyst's way (scripts/bench.sh): DuckDB reads the JSON-lines log, builds the partition-instance
lineage edges with SQL, and answers a downstream lineage with a recursive CTE. Prints one JSON object.

    python bench_duckdb.py LOG.jsonl --focus-ref REF [--focus-run JOB_RUN_ID] [--depths 1,3,10]

Instances are keyed `job_run_id|ref` (built) or `|ref` (External), one-to-one with dbl's UUIDs, and reads
are resolved as DESIGN says: to the ref's newest instance (by buffer order) whose run succeeded before the
reading run's success, else to its External instance. Empty `impacted` means every output of the run.
"""

import argparse
import json
import time

import duckdb

COLUMNS = {
    "event_id": "UBIGINT",
    "job_run_buffer_v1": 'STRUCT(job_run_id VARCHAR, building_partitions STRUCT("ref" VARCHAR)[])',
    "job_run_success_v1": 'STRUCT(job_run_id VARCHAR, read_deps STRUCT(impacted STRUCT("ref" VARCHAR)[], "read" STRUCT("ref" VARCHAR)[])[])',
}

EDGES = """
CREATE TABLE inst AS
  SELECT jr, bp."ref" AS r, seq
  FROM (SELECT b.job_run_id AS jr, event_id AS seq, unnest(b.building_partitions) AS bp FROM ev WHERE b IS NOT NULL);
CREATE TABLE succ AS SELECT s.job_run_id AS jr, event_id AS eid, s.read_deps AS deps FROM ev WHERE s IS NOT NULL;
CREATE TABLE live AS SELECT i.jr, i.r, i.seq, s.eid AS live_at FROM inst i JOIN succ s USING (jr);
CREATE TABLE reads AS
  WITH d AS (SELECT jr, eid, unnest(deps) AS dep FROM succ),
       rd AS (SELECT jr, eid, dep.impacted AS imp, unnest(dep."read") AS rr FROM d)
  SELECT jr, eid, rr."ref" AS r, [x."ref" FOR x IN coalesce(imp, [])] AS imp FROM rd;
CREATE TABLE resolved AS
  SELECT x.jr, x.r, coalesce(arg_max(l.jr || '|' || l.r, l.seq), '|' || x.r) AS input
  FROM (SELECT DISTINCT jr, eid, r FROM reads) x
  LEFT JOIN live l ON l.r = x.r AND l.live_at < x.eid
  GROUP BY x.jr, x.r;
CREATE TABLE consumer AS
  SELECT DISTINCT res.input, o.jr || '|' || o.r AS output
  FROM reads rd
  JOIN resolved res ON res.jr = rd.jr AND res.r = rd.r
  JOIN inst o ON o.jr = rd.jr AND (len(rd.imp) = 0 OR list_contains(rd.imp, o.r));
"""

DOWNSTREAM = """
WITH RECURSIVE down(k, d) AS (
  SELECT ?::VARCHAR, 0
  UNION
  SELECT c.output, down.d + 1 FROM consumer c JOIN down ON c.input = down.k WHERE down.d < ?
)
SELECT count(DISTINCT k) - 1 FROM down
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("--focus-ref", required=True)
    parser.add_argument("--focus-run", default="")
    parser.add_argument("--depths", default="1,3,10")
    args = parser.parse_args()
    focus = f"{args.focus_run}|{args.focus_ref}"
    depths = [int(d) for d in args.depths.split(",")]

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE ev AS SELECT event_id, job_run_buffer_v1 AS b, job_run_success_v1 AS s "
        "FROM read_json(?, format = 'newline_delimited', columns = " + duckdb_struct(COLUMNS) + ") "
        "WHERE job_run_buffer_v1 IS NOT NULL OR job_run_success_v1 IS NOT NULL",
        [args.log],
    )
    read = time.perf_counter()
    con.execute(EDGES)
    edges = time.perf_counter()
    first = con.execute(DOWNSTREAM, [focus, 3]).fetchone()[0]
    first_answer = time.perf_counter()

    lineage = []
    for depth in depths:
        samples = []
        count = None
        for _ in range(5):
            t = time.perf_counter()
            count = con.execute(DOWNSTREAM, [focus, depth]).fetchone()[0]
            samples.append(time.perf_counter() - t)
        samples.sort()
        lineage.append({"depth": depth, "s": samples[len(samples) // 2], "count": count})

    print(json.dumps({
        "version": duckdb.__version__,
        "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],
        "read_s": read - started,
        "edges_s": edges - read,
        "first_answer_s": first_answer - started,
        "first_answer_depth3_count": first,
        "edges": con.execute("SELECT count(*) FROM consumer").fetchone()[0],
        "lineage": lineage,
    }))


def duckdb_struct(columns):
    """A DuckDB struct literal: {'name': 'TYPE', ...}."""
    return "{" + ", ".join(f"'{k}': '{v.replace(chr(39), chr(39) * 2)}'" for k, v in columns.items()) + "}"


if __name__ == "__main__":
    main()
