#!/usr/bin/env bash
# postgres.sh: filetrail's PostgreSQL figures, measured in one run, written
# to docs/PERFORMANCE-postgres.md.
#
#   1. Ingest: sightings per second through the store's Apply (what
#      `filetrail ingest` does) in batches of 1,000, next to a plain COPY of
#      the rows that ingest leaves in the same tables, and SQLite's Apply on
#      the same batches (store/postgres BenchmarkApply, BenchmarkPlainCopy,
#      in one `go test` process).
#   2. Page latency: one IP with 1,000,000 files, the first page and a deep
#      page, limit 10 and 40, with attributes, on PostgreSQL next to SQLite
#      holding the same data, through the store and through HTTP
#      (bench/pgbench).
#
# It starts its own throwaway PostgreSQL (scripts/pg-test-server.sh) and
# stops it on exit. The 1M-edge page stores take long to seed: they are
# built once and kept under $PGBENCH_DIR (a SQLite file and a pg_dump of the
# PostgreSQL database), keyed by the dataset size and the store schemas;
# later runs restore them.
#
# Usage:
#   bench/postgres.sh                 full size, writes docs/PERFORMANCE-postgres.md
#   PGBENCH_SMOKE=1 bench/postgres.sh quick run (20,000 edges, 5,000 sightings),
#                                     writes $PGBENCH_DIR/PERFORMANCE-postgres-smoke.md
#
# Settings (environment):
#   PGBENCH_EDGES       files of the page IP (1000000; smoke 20000)
#   PGBENCH_SIGHTINGS   records of the ingest workload (100000; smoke 5000)
#   PGBENCH_BATCH       records per Apply in the ingest benchmark (1000)
#   PGBENCH_SEED_BATCH  sightings per Apply when seeding the page stores (5000)
#   PGBENCH_ITERS       timed store reads per page scenario (5000; smoke 200)
#   PGBENCH_HTTP_ITERS  timed HTTP requests per page scenario (2000; smoke 100)
#   PGBENCH_DEEP_AFTER  items before the deep page (800000 at full size: page
#                       20,001 at limit 40; default 80% of the edges)
#   PGBENCH_DIR         cache and raw outputs (bench/out)
#   PGBENCH_REPORT      report path (see above)
#   FILETRAIL_PG_STATE  state file of the throwaway server (/tmp/pgbench.state)
set -euo pipefail

cd "$(dirname "$0")/.."
command_line="bench/postgres.sh"
for v in PGBENCH_SMOKE PGBENCH_EDGES PGBENCH_SIGHTINGS PGBENCH_BATCH PGBENCH_SEED_BATCH PGBENCH_ITERS PGBENCH_HTTP_ITERS PGBENCH_DEEP_AFTER; do
	if [ -n "${!v:-}" ]; then
		command_line="$v=${!v} $command_line"
	fi
done

if [ -n "${PGBENCH_SMOKE:-}" ]; then
	EDGES="${PGBENCH_EDGES:-20000}"
	SIGHTINGS="${PGBENCH_SIGHTINGS:-5000}"
	ITERS="${PGBENCH_ITERS:-200}"
	HTTP_ITERS="${PGBENCH_HTTP_ITERS:-100}"
else
	EDGES="${PGBENCH_EDGES:-1000000}"
	SIGHTINGS="${PGBENCH_SIGHTINGS:-100000}"
	ITERS="${PGBENCH_ITERS:-5000}"
	HTTP_ITERS="${PGBENCH_HTTP_ITERS:-2000}"
fi
BATCH="${PGBENCH_BATCH:-1000}"
SEED_BATCH="${PGBENCH_SEED_BATCH:-5000}"
DEEP_AFTER="${PGBENCH_DEEP_AFTER:-$((EDGES * 8 / 10))}"
DIR="${PGBENCH_DIR:-bench/out}"
if [ -z "${PGBENCH_REPORT:-}" ]; then
	if [ -z "${PGBENCH_SMOKE:-}" ] && [ "$EDGES" -ge 1000000 ]; then
		PGBENCH_REPORT=docs/PERFORMANCE-postgres.md
	else
		PGBENCH_REPORT="$DIR/PERFORMANCE-postgres-smoke.md"
	fi
fi
export FILETRAIL_PG_STATE="${FILETRAIL_PG_STATE:-/tmp/pgbench.state}"
PGBIN="${FILETRAIL_PG_BIN:-/usr/lib/postgresql/15/bin}"

log() { echo "postgres.sh: $(date -u +%H:%M:%S) $*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

mkdir -p "$DIR"
run_dir="$DIR/pgbench-run-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run_dir"
started_at="$(date -u '+%Y-%m-%d %H:%M UTC')"
t_start=$SECONDS

cleanup() {
	scripts/pg-test-server.sh stop || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "starting PostgreSQL"
line="$(scripts/pg-test-server.sh start)"
export "${line?}"
server_dsn="$FILETRAIL_TEST_POSTGRES"
psql_server() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$server_dsn" "$@"; }
pg_version="$(psql_server -c 'SHOW server_version')"

# ---- 1. ingest -------------------------------------------------------------
load_ingest="$(load)"
log "ingest benchmark: $SIGHTINGS records, batches of $BATCH (load $load_ingest)"
FILETRAIL_BENCH_SIGHTINGS="$SIGHTINGS" FILETRAIL_BENCH_BATCH="$BATCH" \
	go test ./store/postgres/ -run '^$' -bench '^(BenchmarkApply|BenchmarkPlainCopy)$' \
	-benchtime 1x -count 1 -timeout 0 2>&1 | tee "$run_dir/ingest.txt" >&2
grep -q '^ok' "$run_dir/ingest.txt" || { log "ingest benchmark failed (see $run_dir/ingest.txt)"; exit 1; }

# metric NAME UNIT prints the value reported before UNIT on the line of
# benchmark NAME (GOMAXPROCS suffix ignored).
metric() {
	awk -v name="$1" -v unit="$2" '
		{ n = $1; sub(/-[0-9]+$/, "", n) }
		n == name { for (i = 2; i <= NF; i++) if ($i == unit) { printf "%.0f", $(i-1); found = 1 } }
		END { if (!found) exit 1 }' "$run_dir/ingest.txt"
}
apply_pg="$(metric BenchmarkApply/arrays sightings/s)"
apply_pg_copy="$(metric BenchmarkApply/copy sightings/s)"
apply_lite="$(metric BenchmarkApply/sqlite sightings/s)"
plain_copy="$(metric BenchmarkPlainCopy sightings/s)"
plain_copy_rows="$(metric BenchmarkPlainCopy rows/s)"

# ---- 2. page latency -------------------------------------------------------
# The dataset is defined by bench/pgbench (bump DATASET when it changes)
# and stored under the stores' schemas.
DATASET=pgbench-v1
key="$({ echo "$DATASET"; cat store/postgres/migrations/* store/sqlite/migrations/*; } | sha256sum | cut -c1-12)"
dump="$DIR/pgbench-pg-e$EDGES-$key.dump"
lite="$DIR/pgbench-sqlite-e$EDGES-$key.db"
pages_dsn="${server_dsn/\/postgres\?//filetrail_pages?}"
psql_server -c 'CREATE DATABASE filetrail_pages'
seed_pg=-seed-pg
pg_source="seeded in this run through Apply"
if [ -f "$dump" ]; then
	log "restoring the PostgreSQL page store from $dump"
	t0=$SECONDS
	"$PGBIN/pg_restore" --no-owner -j 2 -d "$pages_dsn" "$dump"
	seed_pg=
	pg_source="restored from a pg_dump of a store seeded through Apply by an earlier run ($((SECONDS - t0)) s to restore)"
fi
lite_source="seeded in this run through Apply"
if [ -f "$lite.done" ]; then
	lite_source="seeded through Apply by an earlier run, reused"
fi

log "building bench/pgbench"
go build -o "$DIR/pgbench-bin" ./bench/pgbench
pages() {
	"$DIR/pgbench-bin" -pg "$pages_dsn" $seed_pg -sqlite "$lite" -edges "$EDGES" -batch "$SEED_BATCH" \
		-deep-after "$DEEP_AFTER" -iters "$ITERS" -http-iters "$HTTP_ITERS" -out "$run_dir/pages.md" "$@"
}
if [ -n "$seed_pg" ] || [ ! -f "$lite.done" ]; then
	log "seeding the page stores ($EDGES edges, batches of $SEED_BATCH); this takes long at full size"
	# Seed only (no measuring yet): measuring comes after VACUUM ANALYZE.
	pages -iters 1 -http-iters 1 2>&1 | tee "$run_dir/seed.log" >&2
	if [ -n "$seed_pg" ]; then
		log "saving the PostgreSQL page store to $dump"
		"$PGBIN/pg_dump" -Fc -d "$pages_dsn" -f "$dump.tmp"
		mv "$dump.tmp" "$dump"
	fi
	cp "$run_dir/pages.md" "$run_dir/seed.md"
	seed_pg=
fi
# Statistics as autovacuum would eventually leave them, the same whether
# the store was seeded or restored.
"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$pages_dsn" -c 'VACUUM ANALYZE'
pg_bytes="$("$PGBIN/psql" -X -At -d "$pages_dsn" -c 'SELECT pg_database_size(current_database())')"
lite_bytes="$(($(stat -c %s "$lite") + $(stat -c %s "$lite-wal" 2>/dev/null || echo 0)))"
load_pages="$(load)"
log "measuring pages (load $load_pages)"
pages 2>&1 | tee "$run_dir/pages.log" >&2
load_end="$(load)"

# ---- report ----------------------------------------------------------------
cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
mem="$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
seed_table=""
if [ -f "$run_dir/seed.md" ]; then
	seed_table="$(sed -n '/^#### Seeding/,$p' "$run_dir/seed.md")"
fi
mkdir -p "$(dirname "$PGBENCH_REPORT")"
{
	cat <<EOF
# PostgreSQL performance

Generated by \`bench/postgres.sh\` (do not edit by hand). Every figure below
comes from one run of the script, on a shared machine that was busy with
other work at the time: read the figures as this machine's, under the load
shown, not as a tuned server's.

## Summary

| Figure | PostgreSQL | Plain COPY | SQLite |
|---|---:|---:|---:|
| Ingest through \`Apply\`, batches of $BATCH (sightings/s) | $apply_pg | $plain_copy | $apply_lite |
| \`Apply\` / plain COPY | $(ratio "$apply_pg" "$plain_copy") | 1 | |

Page latency at $EDGES edges: see the table below (store and HTTP, first and deep page, p50/p99).

## Run

- Date: $started_at; the run took $(((SECONDS - t_start) / 60)) min.
- Command: \`$command_line\`
- Machine: $(nproc) CPUs ($cpu), $mem RAM, shared with other work.
- Load average (1, 5, 15 min): $load_ingest at the ingest benchmark, $load_pages
  when page measuring started, $load_end at its end.
- Go: $(go env GOVERSION); PostgreSQL $pg_version, a
  throwaway local cluster started by \`scripts/pg-test-server.sh\`:
  \`fsync=off\`, \`synchronous_commit=off\`, \`full_page_writes=off\`,
  \`shared_buffers=256MB\`, otherwise defaults; clients connect over TCP on
  127.0.0.1. SQLite is the embedded store (\`store/sqlite\`, cgo
  mattn/go-sqlite3) in a file on local disk.

## Ingest

\`go test ./store/postgres/ -bench '^(BenchmarkApply|BenchmarkPlainCopy)\$' -benchtime 1x\`
with \`FILETRAIL_BENCH_SIGHTINGS=$SIGHTINGS FILETRAIL_BENCH_BATCH=$BATCH\`,
one process, one pass each, every pass into an empty database:

| Way of writing | Sightings/s |
|---|---:|
| PostgreSQL \`Apply\` (default: array parameters, the \`filetrail ingest\` path) | $apply_pg |
| PostgreSQL \`Apply\` with COPY into staging tables (the alternative bulk mode) | $apply_pg_copy |
| Plain \`COPY\` of the final rows into the same 7 tables, one transaction ($plain_copy_rows rows/s) | $plain_copy |
| SQLite \`Apply\` (the same batches) | $apply_lite |

The workload (\`newWorkload\` in \`store/postgres/workload_test.go\`, seed 3)
is $SIGHTINGS records over $((SIGHTINGS / 10)) files and $((SIGHTINGS / 100)) IPs (IPv4, IPv6 and
IPv4-mapped), about 1 in 25 of them file facts (real VirusTotal reports
from \`testdata/vt-file-objects\`, sensor hints, analysis results) and the
rest sightings; most files are first seen by md5 or sha1 only and merged
into their sha256 record when a later record links the hashes. The rates
count sightings only. \`Apply\` merges: it reads the existing rows,
re-merges file documents and edge contexts, links hashes, and keeps the
counts. The plain COPY writes the rows that \`Apply\` left in the tables,
as they are, with no merging: it is the floor under any way of loading the
same final state, not an alternative ingest path. Each way runs once (one
pass, no repetitions) on a machine under the load above, so the rates
are noisy: on this shared machine, runs of this script half an hour apart
have differed by up to 2× in the \`Apply\` rates. Compare figures within
one run, not across runs.

## Pages

Dataset: one IP (198.51.100.7) serving $EDGES files, one sighting each
(hashes, URL, file name, size, a distinct time), seeded in batches of
$SEED_BATCH through \`Apply\`. There are no file reports, so each file
document is small (the names, size and hashes a sighting gives, a few
hundred bytes), far below a real VirusTotal report (10–20 KB): the
figures measure finding and reading the page's rows, not moving large
documents. PostgreSQL: $pg_source; database $(mib "$pg_bytes") after
\`VACUUM ANALYZE\`. SQLite: $lite_source; file $(mib "$lite_bytes").
Before measuring, both stores are checked: the IP's count, the first item,
and the deep cursor (computed from the dataset) equal to the one the store
hands out.

Store: \`DownloadedFiles(ip, {Limit, After}, withAttributes=true)\` called
directly. HTTP: \`vtapi.New\` on a loopback listener, a \`net/http\` client
with keep-alive, \`GET /api/v3/ip_addresses/198.51.100.7/downloaded_files?limit=N[&cursor=C]\`
with a premium key (authentication and quota bookkeeping included), full
body read.

EOF
	cat "$run_dir/pages.md"
	if [ -n "$seed_table" ]; then
		echo
		echo "$seed_table"
	fi
	cat <<EOF

## Reproduce

\`\`\`sh
$command_line
PGBENCH_SMOKE=1 bench/postgres.sh   # quick run, writes bench/out/PERFORMANCE-postgres-smoke.md
\`\`\`

The page stores are built once and kept under \`bench/out/\` (a SQLite file
and a \`pg_dump\` of the PostgreSQL database, named by size and schema);
raw outputs of each run are in \`bench/out/pgbench-run-*/\`.
EOF
} >"$PGBENCH_REPORT"
log "wrote $PGBENCH_REPORT in $(((SECONDS - t_start) / 60)) min"
