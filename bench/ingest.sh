#!/usr/bin/env bash
# ingest.sh: how fast `filetrail ingest` loads native sightings, next to the
# engines' own bulk load of exactly the rows that ingestion produced,
# measured side by side in one run; writes a markdown report.
#
#   1. Generates a native sightings NDJSON file (the `sightings` format):
#      power-law IPs (a few serve most downloads), files recurring on
#      several IPs and over time (popular files come back), some repeats of
#      an (IP, file, URL) already sighted, a few sightings that carry only an
#      md5 (merged into their sha256 file once a later sighting links them).
#   2. SQLite, repeated INGEST_RUNS times: `filetrail ingest --store NEW.db
#      FILE` (wall time, peak RSS), then the `sqlite3` CLI loading a `.dump`
#      of that store into a new file (the dump is one transaction: schema,
#      rows, then indexes), timed the same way. The ratio is the CLI's time
#      over ingest's: 1 means as fast as the engine's plain bulk load.
#   3. PostgreSQL, once, when its binaries are installed (INGEST_PG=0 skips
#      it): the same ingest into an empty database of a throwaway server
#      (scripts/pg-test-server.sh, as bench/postgres.sh uses), next to
#      psql restoring a pg_dump of the result (COPY of every table, then the
#      indexes) in one transaction into another empty database.
#
# Usage:
#   bench/ingest.sh                     full size, writes docs/PERFORMANCE-ingest.md
#   INGEST_SIGHTINGS=50000 INGEST_RUNS=1 bench/ingest.sh   quick run
#
# Settings (environment):
#   INGEST_SIGHTINGS  sightings in the generated file (200000)
#   INGEST_SEED       generator seed (1)
#   INGEST_REPEAT     share of sightings repeating an earlier (IP, file, URL) (0.2)
#   INGEST_WEAK       share of sightings carrying an md5 only (0.01)
#   INGEST_RUNS       SQLite repetitions (3)
#   INGEST_PG         1: also PostgreSQL when installed (default), 0: skip
#   INGEST_ARGS       extra arguments of `filetrail ingest` (none)
#   INGEST_DIR        data, binaries and raw outputs (bench/out)
#   INGEST_REPORT     report path (docs/PERFORMANCE-ingest.md at full size,
#                     else $INGEST_DIR/PERFORMANCE-ingest-smoke.md)
#   FILETRAIL_PG_BIN  PostgreSQL binaries (/usr/lib/postgresql/15/bin)
#
# The report keeps the hand-written end of the existing report, from its
# first "## Analysis" or "## Sensor logs" heading on (profiles and the
# sensor-log figures, measured by hand), so regenerating it loses neither.
set -euo pipefail

cd "$(dirname "$0")/.."
command_line="bench/ingest.sh"
for v in INGEST_SIGHTINGS INGEST_SEED INGEST_REPEAT INGEST_WEAK INGEST_RUNS INGEST_PG INGEST_ARGS; do
	if [ -n "${!v:-}" ]; then
		command_line="$v=${!v} $command_line"
	fi
done
N="${INGEST_SIGHTINGS:-200000}"
SEED="${INGEST_SEED:-1}"
REPEAT="${INGEST_REPEAT:-0.2}"
WEAK="${INGEST_WEAK:-0.01}"
RUNS="${INGEST_RUNS:-3}"
PG="${INGEST_PG:-1}"
ARGS="${INGEST_ARGS:-}"
DIR="${INGEST_DIR:-bench/out}"
if [ -z "${INGEST_REPORT:-}" ]; then
	if [ "$N" -ge 200000 ]; then
		INGEST_REPORT=docs/PERFORMANCE-ingest.md
	else
		INGEST_REPORT="$DIR/PERFORMANCE-ingest-smoke.md"
	fi
fi
PGBIN="${FILETRAIL_PG_BIN:-/usr/lib/postgresql/15/bin}"
export FILETRAIL_PG_STATE="${FILETRAIL_PG_STATE:-/tmp/ingestbench-pg.state}"

log() { echo "ingest.sh: $(date -u +%H:%M:%S) $*" >&2; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
for tool in go python3 sqlite3 /usr/bin/time; do
	command -v "$tool" >/dev/null || { log "needs $tool"; exit 1; }
done

mkdir -p "$DIR"
run_dir="$DIR/ingest-run-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run_dir"
started_at="$(date -u '+%Y-%m-%d %H:%M UTC')"
t_start=$SECONDS

pg_started=
cleanup() {
	if [ -n "$pg_started" ]; then
		scripts/pg-test-server.sh stop || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building filetrail"
go build -o "$DIR/filetrail-ingest" ./cmd/filetrail
ft="$DIR/filetrail-ingest"

# ---- input ------------------------------------------------------------------
input="$DIR/ingest-sightings-n$N-s$SEED-r$REPEAT-w$WEAK.ndjson"
if [ ! -f "$input" ]; then
	log "generating $N sightings into $input"
	python3 - "$N" "$SEED" "$REPEAT" "$WEAK" >"$input.tmp" <<'EOF'
import hashlib, json, random, sys
n, seed, repeat, weak = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
rnd = random.Random(seed)
nips, nfiles = max(n // 20, 10), max(n // 4, 10)
sources = ["honeypot-a", "sensor-b", "feed-c"]
mimes = ["application/x-dosexec", "application/x-elf", "application/zip", "text/x-shellscript"]
exts = [".exe", ".elf", ".zip", ".sh"]
def ip(k):  # 198.18.0.0/15 (benchmarking) and 2001:db8::/32 (documentation)
    if k % 20 == 19:
        return "2001:db8:%x::%x" % (k // 65536, k % 65536 + 1)
    return "198.%d.%d.%d" % (18 + (k >> 16) % 2, (k >> 8) % 256, k % 256)
cache = {}
def hashes(f):
    h = cache.get(f)
    if h is None:
        b = b"bench file %d" % f
        h = cache[f] = (hashlib.sha256(b).hexdigest(), hashlib.sha1(b).hexdigest(), hashlib.md5(b).hexdigest())
    return h
recent, t = [], 1700000000
for i in range(n):
    t += rnd.randint(0, 3)
    if recent and rnd.random() < repeat:  # the same edge and URL again, later
        k, f, url, src = recent[rnd.randrange(len(recent))]
    else:
        k = int(nips * rnd.random() ** 3)    # power law: a few IPs serve most
        f = int(nfiles * rnd.random() ** 2)  # popular files recur on many IPs
        host = ip(k) if k % 3 else "h%d.example.test" % k
        url = "http://%s/d/%d/%d%s" % (host, rnd.randrange(4), f, exts[f % 4])
        src = sources[int(3 * rnd.random() ** 2)]
        if len(recent) < 50000:
            recent.append((k, f, url, src))
        else:
            recent[rnd.randrange(50000)] = (k, f, url, src)
    s256, s1, m5 = hashes(f)
    d = {"ip": ip(k), "url": url}
    r = rnd.random()
    if r < weak:
        d["md5"] = m5
    elif r < 0.15:
        d["sha256"] = s256
    else:
        d["sha256"], d["sha1"], d["md5"] = s256, s1, m5
    d["size"] = 1024 + (f * 7919) % 900000
    d["filename"] = "%d%s" % (f, exts[f % 4]) if f % 5 else "payload-%d%s" % (rnd.randrange(3), exts[f % 4])
    d["mime"] = mimes[f % 4]
    d["seen_at"] = t
    d["source"] = src
    sys.stdout.write(json.dumps(d, separators=(",", ":")) + "\n")
EOF
	mv "$input.tmp" "$input"
fi
input_bytes="$(stat -c %s "$input")"

# timed OUT CMD... runs CMD under /usr/bin/time; OUT gets "seconds peak_kib".
timed() {
	local out="$1"
	shift
	/usr/bin/time -o "$out" -f "%e %M" "$@"
}
# median prints the median of the numbers on its input, one a line (the
# mean of the middle two, to two decimals, for an even count).
median() {
	sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : sprintf("%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
# rows DB prints the row count of every table of a SQLite store, one
# "table count" a line.
rows() {
	local t
	for t in files hashes evidence edges ips; do
		echo "$t $(sqlite3 "$1" "SELECT COUNT(*) FROM $t")"
	done
}

# ---- SQLite -------------------------------------------------------------------
results=()
for run in $(seq 1 "$RUNS"); do
	d="$run_dir/sqlite-$run"
	mkdir -p "$d"
	l0="$(load)"
	log "SQLite run $run/$RUNS: filetrail ingest (load $l0)"
	# shellcheck disable=SC2086 # INGEST_ARGS is split on purpose
	timed "$d/ingest.time" "$ft" ingest --store "$d/store.db" $ARGS "$input" 2>"$d/ingest.log"
	tail -n 2 "$d/ingest.log" >&2
	sqlite3 "$d/store.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
	store_bytes="$(stat -c %s "$d/store.db")"
	sqlite3 "$d/store.db" .dump >"$d/dump.sql"
	head -c 200 "$d/dump.sql" | grep -q 'BEGIN TRANSACTION' || { log "the dump is not one transaction"; exit 1; }
	log "SQLite run $run/$RUNS: sqlite3 CLI loading the dump ($(($(stat -c %s "$d/dump.sql") / 1048576)) MiB)"
	timed "$d/cli.time" sh -c 'sqlite3 "$1" <"$2"' sh "$d/cli.db" "$d/dump.sql"
	l1="$(load)"
	if ! diff <(rows "$d/store.db") <(rows "$d/cli.db") >/dev/null; then
		log "the CLI's database does not hold the store's rows"
		exit 1
	fi
	read -r it irss <"$d/ingest.time"
	read -r ct crss <"$d/cli.time"
	results+=("$run $it $irss $ct $crss $store_bytes $l0 $l1")
	rm -f "$d/dump.sql" "$d/cli.db"
	[ "$run" = "$RUNS" ] || rm -f "$d/store.db" "$d/store.db-wal" "$d/store.db-shm"
done
# One more run batch by batch (--no-fast-first-load: WAL mode from the
# first batch on, each batch visible to other processes as it commits),
# set against the median of the CLI's times.
d="$run_dir/sqlite-batch-by-batch"
mkdir -p "$d"
log "SQLite: filetrail ingest --no-fast-first-load (load $(load))"
# shellcheck disable=SC2086 # INGEST_ARGS is split on purpose
timed "$d/ingest.time" "$ft" ingest --store "$d/store.db" --no-fast-first-load $ARGS "$input" 2>"$d/ingest.log"
read -r bit birss <"$d/ingest.time"
rm -f "$d/store.db" "$d/store.db-wal" "$d/store.db-shm"
cli_median="$(for r in "${results[@]}"; do read -r _ _ _ ct _ <<<"$r"; echo "$ct"; done | median)"
summary_line="$(grep -m1 '^read ' "$run_dir/sqlite-1/ingest.log" || true)"
row_counts="$(rows "$run_dir/sqlite-$RUNS/store.db" | awk '{ printf "%s%s %s", sep, $2, $1; sep = ", " }')"
total_rows="$(rows "$run_dir/sqlite-$RUNS/store.db" | awk '{ s += $2 } END { print s }')"

# ---- PostgreSQL -------------------------------------------------------------
pg_section=""
if [ "$PG" = 1 ] && [ -x "$PGBIN/initdb" ]; then
	log "starting PostgreSQL"
	line="$(scripts/pg-test-server.sh start)"
	pg_started=1
	server_dsn="${line#FILETRAIL_TEST_POSTGRES=}"
	psql_server() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$server_dsn" "$@"; }
	pg_version="$(psql_server -c 'SHOW server_version')"
	psql_server -c 'CREATE DATABASE ingest_bench' -c 'CREATE DATABASE ingest_copy'
	ingest_dsn="${server_dsn/\/postgres\?//ingest_bench?}"
	copy_dsn="${server_dsn/\/postgres\?//ingest_copy?}"
	d="$run_dir/postgres"
	mkdir -p "$d"
	pl0="$(load)"
	log "PostgreSQL: filetrail ingest (load $pl0)"
	# shellcheck disable=SC2086
	timed "$d/ingest.time" "$ft" ingest --store "$ingest_dsn" $ARGS "$input" 2>"$d/ingest.log"
	tail -n 2 "$d/ingest.log" >&2
	"$PGBIN/pg_dump" -d "$ingest_dsn" -f "$d/dump.sql"
	log "PostgreSQL: psql restoring the dump in one transaction ($(($(stat -c %s "$d/dump.sql") / 1048576)) MiB)"
	timed "$d/copy.time" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 --single-transaction -d "$copy_dsn" -f "$d/dump.sql" -o /dev/null
	pl1="$(load)"
	pg_rows() {
		local t
		for t in files hashes evidence edges ip_stats file_names file_facts; do
			echo "$t $("$PGBIN/psql" -X -At -d "$1" -c "SELECT COUNT(*) FROM $t")"
		done
	}
	if ! diff <(pg_rows "$ingest_dsn") <(pg_rows "$copy_dsn") >/dev/null; then
		log "the restored database does not hold the ingested rows"
		exit 1
	fi
	pg_total="$(pg_rows "$ingest_dsn" | awk '{ s += $2 } END { print s }')"
	read -r pit pirss <"$d/ingest.time"
	read -r pct _ <"$d/copy.time"
	rm -f "$d/dump.sql"
	pg_section="$(
		cat <<EOF
## PostgreSQL

The same input, once, into an empty database of a throwaway local
PostgreSQL $pg_version (\`scripts/pg-test-server.sh\`: \`fsync=off\`,
\`synchronous_commit=off\`, \`full_page_writes=off\`,
\`shared_buffers=256MB\`; TCP on 127.0.0.1), next to \`psql
--single-transaction\` restoring a \`pg_dump\` of the result (schema, a
\`COPY\` of every table, then the indexes) into another empty database.
Load average $pl0 before, $pl1 after.

| Way of loading | Wall | Sightings/s | Peak RSS (filetrail) |
|---|---:|---:|---:|
| \`filetrail ingest --store postgres://...\` | $pit s | $(awk -v n="$N" -v t="$pit" 'BEGIN { printf "%.0f", n / t }') | $((pirss / 1024)) MiB |
| \`psql\` restoring the same $pg_total rows | $pct s | $(awk -v n="$N" -v t="$pct" 'BEGIN { printf "%.0f", n / t }') | |
| Ratio (restore time / ingest time) | **$(awk -v a="$pct" -v b="$pit" 'BEGIN { printf "%.2f", a / b }')** | | |
EOF
	)"
	scripts/pg-test-server.sh stop || true
	pg_started=
elif [ "$PG" = 1 ]; then
	log "PostgreSQL binaries not found in $PGBIN: skipping PostgreSQL"
	pg_section="## PostgreSQL

Not measured in this run: no PostgreSQL binaries in \`$PGBIN\`."
fi

# ---- report -----------------------------------------------------------------
cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
mem="$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
table="$(for r in "${results[@]}"; do
	read -r run it irss ct crss sbytes l0 _ <<<"$r"
	awk -v run="$run" -v it="$it" -v irss="$irss" -v ct="$ct" -v crss="$crss" -v n="$N" -v sb="$sbytes" -v l0="$l0" 'BEGIN {
		printf "| %d | %.1f s | %.0f | %.0f MiB | %.1f s | %.0f | %.0f MiB | **%.2f** | %s |\n", run, it, n / it, irss / 1024, ct, n / ct, sb / 1048576, ct / it, l0 }'
done)"
ratios="$(for r in "${results[@]}"; do read -r _ it _ ct _ <<<"$r"; awk -v a="$ct" -v b="$it" 'BEGIN { printf "%.2f\n", a / b }'; done | sort -n)"
ratio_min="$(head -n1 <<<"$ratios")"
ratio_max="$(tail -n1 <<<"$ratios")"
ratio_med="$(median <<<"$ratios")"
sensor=""
if [ -f "$INGEST_REPORT" ]; then
	sensor="$(sed -n '/^## \(Analysis\|Sensor logs\)/,$p' "$INGEST_REPORT")"
elif [ -f docs/PERFORMANCE-ingest.md ]; then
	sensor="$(sed -n '/^## \(Analysis\|Sensor logs\)/,$p' docs/PERFORMANCE-ingest.md)"
fi
mkdir -p "$(dirname "$INGEST_REPORT")"
{
	cat <<EOF
# Ingestion performance

The native sightings part is generated by \`bench/ingest.sh\`: every figure
in it comes from one run of the script. The machine is shared with other
work; the load averages are shown, and only figures of one row (measured
back to back) should be compared with each other.

## Summary

\`filetrail ingest\` of $N native sightings into a new SQLite store, next
to the \`sqlite3\` CLI inserting exactly the rows that ingestion produced,
in one transaction. Ratio = CLI time / ingest time (1 would be as fast as
the engine's plain bulk load; the goal is at least 0.5):
median **$ratio_med** over $RUNS runs (from $ratio_min to $ratio_max).

## Run

- Date: $started_at; the run took $(((SECONDS - t_start) / 60)) min.
- Command: \`$command_line\`
- Machine: $(nproc) CPUs ($cpu), $mem RAM, shared with other work.
- Go: $(go env GOVERSION); \`sqlite3\` CLI $(sqlite3 --version | cut -d' ' -f1).

## Input

\`bench/ingest.sh\` generates one native sightings NDJSON file (format
\`sightings\`; $((input_bytes / 1048576)) MiB, $N lines, seed $SEED): $((N / 20)) possible
IPs drawn with a power law (a few serve most downloads), $((N / 4)) possible files
drawn with a skewed law (popular files come back on other IPs and later),
a share $REPEAT of sightings repeating an earlier (IP, file, URL) later on,
a share $WEAK carrying only an md5 (merged into their sha256 file once a later
sighting links the hashes), the others sha256 alone (14%) or all three
hashes; URL, file name, size, MIME type, time and one of three sources on
each line. Ingestion reported: \`$summary_line\`.
The resulting store holds $total_rows rows ($row_counts).

## SQLite

Each run, on the same input:

1. \`filetrail ingest --store NEW.db FILE\`${ARGS:+ (with \`$ARGS\`)} into a new store, under
   \`/usr/bin/time\` (wall time, peak RSS): default settings (batch size,
   the store's 128 MiB page cache, and the first load of a new store: the
   database file written in place with a rollback journal that is not
   waited for, WAL mode from the end on; README, "First load");
2. \`sqlite3 NEW.db .dump > dump.sql\`, then \`sqlite3 cli.db < dump.sql\`
   under the same \`time\`: the CLI inserting exactly the rows that
   ingestion produced (schema, rows in key order, then the indexes) in one
   transaction (the dump is one \`BEGIN TRANSACTION; ... COMMIT;\`). The
   script checks that both databases hold the same number of rows in every
   table.

| Run | \`ingest\` wall | Sightings/s | Peak RSS | \`sqlite3\` CLI load | Sightings/s (equivalent) | Store size | Ratio (CLI / ingest) | Load average before |
|---:|---:|---:|---:|---:|---:|---:|---:|---|
$table

One more run, batch by batch (\`--no-fast-first-load\`: WAL mode from the
first batch on, each batch visible to other processes as it commits), set
against the median of the CLI's times above:

| Way of loading | Wall | Sightings/s | Peak RSS | Ratio (median CLI / this) |
|---|---:|---:|---:|---:|
$(awk -v it="$bit" -v irss="$birss" -v ct="$cli_median" -v n="$N" 'BEGIN {
	printf "| `filetrail ingest --no-fast-first-load` | %.1f s | %.0f | %.0f MiB | **%.2f** |\n", it, n / it, irss / 1024, ct / it }')

$pg_section

## Reproduce

\`\`\`sh
$command_line
INGEST_SIGHTINGS=50000 INGEST_RUNS=1 bench/ingest.sh   # quick run, writes bench/out/PERFORMANCE-ingest-smoke.md
\`\`\`

Raw outputs (ingest logs, \`time\` outputs, the last run's store) are kept
in \`$run_dir/\`.
EOF
	if [ -n "$sensor" ]; then
		echo
		echo "$sensor"
	fi
} >"$INGEST_REPORT"
log "wrote $INGEST_REPORT in $(((SECONDS - t_start) / 60)) min"
