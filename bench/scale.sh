#!/usr/bin/env bash
# bench/scale.sh: filetrail's cost curve. One store per backend (SQLite,
# PostgreSQL) is grown through a series of sizes (edges) by bench/scale
# (the store's Apply, batches of 1,000 records, as `filetrail ingest`);
# at each size the script records:
#   - ingest: sightings/s (and reports/s) of the increment that reached it;
#   - bytes: per table and index (SQLite dbstat, PostgreSQL
#     pg_table_size/pg_indexes_size after VACUUM ANALYZE) with row counts;
#   - pages over HTTP (`filetrail serve` on the store, wrk): the big IP's
#     first page and a deep page, and random small IPs' first pages, at
#     each limit; pages/s and p50/p99 at SCALE_CONNECTIONS, p50/p99 at one
#     connection, and the CPU seconds the server and PostgreSQL spent per
#     page. The server's response cache is off: every page is read from
#     the store.
# The dataset model is in bench/scale/main.go. Raw results go to
# $SCALE_DIR/run-*/ (results.jsonl, one JSON object per measurement, and
# tables.md). Stores are deleted at the end unless SCALE_KEEP=1.
#
# A size whose predicted ingest time (edges to add / the previous
# increment's rate) exceeds SCALE_BUDGET seconds is skipped, with the
# prediction recorded, and so are the sizes after it.
#
# Usage:
#   bench/scale.sh                                  10k, 100k, 1M, 10M on both stores
#   SCALE_SIZES="10000 100000" bench/scale.sh       a quick run (minutes)
#
# Settings (environment, defaults in brackets):
#   SCALE_SIZES ["10000 100000 1000000 10000000"]  edges at each measuring point
#   SCALE_STORES ["sqlite postgres"]
#   SCALE_DOC_FILES [30000]    files with a real VT report (the first ones)
#   SCALE_BIG_SHARE [0.1]      share of the edges on the big IP
#   SCALE_FILES_PER_EDGE [0.3] files the edges are drawn over, per edge
#   SCALE_BATCH [1000]         records per Apply
#   SCALE_BUDGET [1500]        most seconds of ingest for one increment
#   SCALE_SMALL [200]          random small IPs cycled in the small-IP scenario
#   SCALE_LIMITS ["10 40"]
#   SCALE_THREADS [2] SCALE_CONNECTIONS [16] SCALE_DURATION [5] SCALE_WARMUP [1] SCALE_LATENCY_DURATION [3]
#   SCALE_DIR [bench/out/scale]  stores and runs
#   SCALE_KEEP [0]             1: keep the stores
#   FILETRAIL_PG_STATE         state file of the throwaway PostgreSQL [/tmp/filetrail-scale-pg.state]
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
COMMAND=$(exact_command SCALE_ bench/scale.sh)

: "${SCALE_SIZES:=10000 100000 1000000 10000000}"
: "${SCALE_STORES:=sqlite postgres}"
: "${SCALE_DOC_FILES:=30000}"
: "${SCALE_BIG_SHARE:=0.1}"
: "${SCALE_FILES_PER_EDGE:=0.3}"
: "${SCALE_BATCH:=1000}"
: "${SCALE_BUDGET:=1500}"
: "${SCALE_SMALL:=200}"
: "${SCALE_LIMITS:=10 40}"
: "${SCALE_THREADS:=2}"
: "${SCALE_CONNECTIONS:=16}"
: "${SCALE_DURATION:=5}"
: "${SCALE_WARMUP:=1}"
: "${SCALE_LATENCY_DURATION:=3}"
: "${SCALE_DIR:=bench/out/scale}"
: "${SCALE_KEEP:=0}"
export FILETRAIL_PG_STATE="${FILETRAIL_PG_STATE:-/tmp/filetrail-scale-pg.state}"
PGBIN="${FILETRAIL_PG_BIN:-/usr/lib/postgresql/15/bin}"

log() { printf 'scale: %s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
for tool in go wrk curl sqlite3 ss timeout awk; do
	command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install -y wrk curl sqlite3 iproute2)"
done

MAX=0
for s in $SCALE_SIZES; do [ "$s" -gt "$MAX" ] && MAX=$s; done
MODEL=(-max "$MAX" -doc-files "$SCALE_DOC_FILES" -big-share "$SCALE_BIG_SHARE" -files-per-edge "$SCALE_FILES_PER_EDGE")

mkdir -p "$SCALE_DIR"
SCALE_DIR=$(cd "$SCALE_DIR" && pwd)
RUN=$SCALE_DIR/run-$(date -u +%Y%m%dT%H%M%SZ)
BIN=$SCALE_DIR/bin
mkdir -p "$RUN" "$BIN"
RESULTS=$RUN/results.jsonl
: >"$RESULTS"
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')

PIDS=()
PG_STARTED=0
SQLITE_DB=$SCALE_DIR/scale.db
cleanup() {
	[ ${#PIDS[@]} -eq 0 ] || stop_pids "${PIDS[@]}"
	[ "$PG_STARTED" = 0 ] || scripts/pg-test-server.sh stop || true
	if [ "$SCALE_KEEP" != 1 ]; then rm -f "$SQLITE_DB" "$SQLITE_DB-wal" "$SQLITE_DB-shm"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building into $BIN"
BUILT_FROM=$(tree_commit)
go build -o "$BIN/filetrail" ./cmd/filetrail
go build -o "$BIN/scale" ./bench/scale

# record JSON: one result line.
record() { echo "$1" >>"$RESULTS"; }

# cpu_ticks PID...: utime+stime (clock ticks) of the processes.
cpu_ticks() {
	local t=0 pid v
	for pid in "$@"; do
		v=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)
		t=$((t + v))
	done
	echo "$t"
}
# pg_ticks: CPU clock ticks PostgreSQL has spent: its live processes (the
# postmaster's children) and, through the postmaster's cutime+cstime, the
# backends that exited (connections come and go during a run).
pg_ticks() {
	[ "$PG_STARTED" = 1 ] || { echo 0; return 0; }
	local pm t
	pm=$(head -1 "$PG_DIR/data/postmaster.pid")
	t=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat")
	# shellcheck disable=SC2046
	echo $((t + $(cpu_ticks $(ps -o pid= --ppid "$pm"))))
}
HZ=$(getconf CLK_TCK)

# --- bytes -----------------------------------------------------------------
bytes_sqlite() { # SIZE
	local db=$SQLITE_DB
	local fsize=$(($(stat -c %s "$db") + $(stat -c %s "$db-wal" 2>/dev/null || echo 0)))
	sqlite3 -readonly "$db" "SELECT name, sum(pgsize) FROM dbstat GROUP BY name" | while IFS='|' read -r name b; do
		record "{\"kind\":\"bytes\",\"store\":\"sqlite\",\"size\":$1,\"object\":\"$name\",\"bytes\":$b}"
	done
	local counts
	counts=$(sqlite3 -readonly "$db" "SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM edges), (SELECT count(*) FROM facts), (SELECT count(*) FROM ips), (SELECT count(*) FROM evidence)")
	IFS='|' read -r nf ne nd ni nev <<<"$counts"
	record "{\"kind\":\"counts\",\"store\":\"sqlite\",\"size\":$1,\"files\":$nf,\"edges\":$ne,\"reports\":$nd,\"ips\":$ni,\"evidence\":$nev,\"store_bytes\":$fsize}"
}
bytes_postgres() { # SIZE
	psql_db -c 'VACUUM ANALYZE' >/dev/null
	psql_db -F '|' -c "SELECT c.relname, pg_table_size(c.oid), pg_indexes_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'" |
		while IFS='|' read -r name tb ib; do
			record "{\"kind\":\"bytes\",\"store\":\"postgres\",\"size\":$1,\"object\":\"$name\",\"bytes\":$tb}"
			record "{\"kind\":\"bytes\",\"store\":\"postgres\",\"size\":$1,\"object\":\"$name indexes\",\"bytes\":$ib}"
		done
	# Each index, and the stored (compressed) size of the documents.
	psql_db -F '|' -c "SELECT i.indexrelid::regclass, pg_relation_size(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'" |
		while IFS='|' read -r name b; do
			record "{\"kind\":\"index\",\"store\":\"postgres\",\"size\":$1,\"object\":\"$name\",\"bytes\":$b}"
		done
	psql_db -F '|' -c "SELECT CASE WHEN EXISTS (SELECT 1 FROM file_facts x WHERE x.file_id = f.file_id) THEN 'true' ELSE 'false' END, count(*), avg(octet_length(f.attributes))::bigint, avg(pg_column_size(f.attributes))::bigint, coalesce(avg(pg_column_size(f.attributes_deflate)), 0)::bigint FROM files f GROUP BY 1" |
		while IFS='|' read -r rep n raw stored deflate; do
			record "{\"kind\":\"documents\",\"store\":\"postgres\",\"size\":$1,\"with_report\":$rep,\"files\":$n,\"attributes_bytes\":$raw,\"attributes_stored\":$stored,\"deflate_stored\":$deflate}"
		done
	local counts
	counts=$(psql_db -F '|' -c "SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM edges), (SELECT count(*) FROM file_facts), (SELECT count(*) FROM ip_stats), (SELECT count(*) FROM evidence), pg_database_size(current_database())")
	IFS='|' read -r nf ne nd ni nev db <<<"$counts"
	record "{\"kind\":\"counts\",\"store\":\"postgres\",\"size\":$1,\"files\":$nf,\"edges\":$ne,\"reports\":$nd,\"ips\":$ni,\"evidence\":$nev,\"store_bytes\":$db}"
}

# --- pages -----------------------------------------------------------------
# pages STORE SIZE DSN
pages() {
	local store=$1 size=$2 dsn=$3
	local dir=$RUN/$store-$size
	mkdir -p "$dir"
	"$BIN/scale" plan -at "$size" -small "$SCALE_SMALL" "${MODEL[@]}" >"$dir/plan.txt"
	local ip big_edges deep_cursor deep_after
	ip=$(awk '$1 == "big" { print $2 }' "$dir/plan.txt")
	big_edges=$(awk '$1 == "big_edges" { print $2 }' "$dir/plan.txt")
	deep_after=$(awk '$1 == "deep_after" { print $2 }' "$dir/plan.txt")
	deep_cursor=$(awk '$1 == "deep_cursor" { print $2 }' "$dir/plan.txt")

	local key
	key=$("$BIN/filetrail" keys create --store "$dsn" --name "scale-$store-$size-$$" --premium | sed -n 1p)
	[ ${#key} -ge 32 ] || die "keys create printed no key"
	local port
	port=$(free_port)
	"$BIN/filetrail" serve --store "$dsn" --addr "127.0.0.1:$port" --response-cache-mib 0 >"$dir/serve.log" 2>&1 &
	local ft=$!
	PIDS+=("$ft")
	local base=http://127.0.0.1:$port
	for _ in $(seq 240); do
		curl -fsS --max-time 2 -o /dev/null "$base/healthz" 2>/dev/null && break
		kill -0 "$ft" 2>/dev/null || die "filetrail serve exited: $(tail -5 "$dir/serve.log")"
		sleep 0.5
	done

	local limit scenario path url code count
	for limit in $SCALE_LIMITS; do
		local -a scen=("big-first" "/api/v3/ip_addresses/$ip/downloaded_files?limit=$limit")
		[ -z "$deep_cursor" ] || scen+=("big-deep" "/api/v3/ip_addresses/$ip/downloaded_files?limit=$limit&cursor=$deep_cursor")
		awk -v l="$limit" '$1 == "small" { print "/api/v3/ip_addresses/" $2 "/downloaded_files?limit=" l }' "$dir/plan.txt" >"$dir/small-l$limit.paths"
		scen+=("small" "@$dir/small-l$limit.paths")
		local i
		for ((i = 0; i < ${#scen[@]}; i += 2)); do
			scenario=${scen[i]}-l$limit
			path=${scen[i + 1]}
			local -a lua=(-s bench/wrk/report.lua)
			if [ "${path:0:1}" = @ ]; then
				export BENCH_PATHS=${path:1} BENCH_THREADS=$SCALE_THREADS
				lua=(-s bench/wrk/paths.lua)
				path=$(head -1 "$BENCH_PATHS")
			fi
			url=$base$path
			# Check the page: 200, the count of the big IP, full items.
			code=$(curl -sS --max-time 60 -H "x-apikey: $key" -o "$dir/$scenario.json" -w '%{http_code}' "$url")
			[ "$code" = 200 ] || die "$store $size $scenario: HTTP $code: $(head -c 300 "$dir/$scenario.json")"
			count=$(grep -o '"meta":{[^}]*}' "$dir/$scenario.json" | grep -o '"count":[0-9]*' | cut -d: -f2 || true)
			case $scenario in big-*) [ "$count" = "$big_edges" ] || die "$store $size $scenario: meta.count $count, want $big_edges" ;; esac
			local page_bytes items
			page_bytes=$(stat -c %s "$dir/$scenario.json")
			items=$(grep -o '"type":"file"' "$dir/$scenario.json" | wc -l)
			# Throughput at SCALE_CONNECTIONS, with CPU accounting.
			timeout $((SCALE_WARMUP + 30)) wrk -t"$SCALE_THREADS" -c"$SCALE_CONNECTIONS" -d"${SCALE_WARMUP}s" "${lua[@]}" -H "x-apikey: $key" "$url" >/dev/null
			# The server's PostgreSQL connections close when wrk drops
			# its own: let those backends exit and be reaped before
			# reading the CPU counters, before and after.
			sleep 1
			local c0 c1 p0 p1
			c0=$(cpu_ticks "$ft")
			p0=$(pg_ticks)
			BENCH_SERVER=$store BENCH_SCENARIO=$scenario timeout $((SCALE_DURATION + 30)) \
				wrk -t"$SCALE_THREADS" -c"$SCALE_CONNECTIONS" -d"${SCALE_DURATION}s" --latency "${lua[@]}" -H "x-apikey: $key" "$url" >"$dir/$scenario.wrk"
			sleep 1
			c1=$(cpu_ticks "$ft")
			p1=$(pg_ticks)
			local tput lat
			tput=$(grep '^{"server"' "$dir/$scenario.wrk") || die "wrk printed no result ($dir/$scenario.wrk)"
			# Latency alone: one connection.
			BENCH_SERVER=$store BENCH_SCENARIO=$scenario timeout $((SCALE_LATENCY_DURATION + 30)) \
				wrk -t1 -c1 -d"${SCALE_LATENCY_DURATION}s" "${lua[@]}" -H "x-apikey: $key" "$url" >"$dir/$scenario.c1.wrk"
			lat=$(grep '^{"server"' "$dir/$scenario.c1.wrk") || die "wrk printed no result ($dir/$scenario.c1.wrk)"
			record "{\"kind\":\"page\",\"store\":\"$store\",\"size\":$size,\"scenario\":\"$scenario\",\"limit\":$limit,\"items\":$items,\"page_bytes\":$page_bytes,\"deep_after\":${deep_after:-0},\"connections\":$SCALE_CONNECTIONS,\"server_cpu_s\":$(awk -v t=$((c1 - c0)) -v h="$HZ" 'BEGIN { print t / h }'),\"pg_cpu_s\":$(awk -v t=$((p1 - p0)) -v h="$HZ" 'BEGIN { print t / h }'),\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"loaded\":$tput,\"alone\":$lat}"
			log "$store $size $scenario: $(grep -m1 'Requests/sec' "$dir/$scenario.wrk" | tr -s ' '), $page_bytes bytes, $items items"
		done
	done
	stop_pids "$ft"
	PIDS=()
}

# --- the series ----------------------------------------------------------------
psql_db() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -d "$PG_DSN" "$@"; }

for store in $SCALE_STORES; do
	case $store in
	sqlite)
		rm -f "$SQLITE_DB" "$SQLITE_DB-wal" "$SQLITE_DB-shm"
		DSN=$SQLITE_DB
		;;
	postgres)
		log "starting PostgreSQL"
		line=$(scripts/pg-test-server.sh start)
		PG_STARTED=1
		PG_DIR=$(cat "$FILETRAIL_PG_STATE")
		server_dsn=${line#*=}
		PG_DSN=${server_dsn/\/postgres\?//filetrail_scale?}
		"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$server_dsn" -c 'CREATE DATABASE filetrail_scale'
		DSN=$PG_DSN
		;;
	*) die "unknown store $store (sqlite or postgres)" ;;
	esac
	prev=0
	rate=0
	skip=""
	for size in $SCALE_SIZES; do
		if [ -n "$skip" ]; then
			record "{\"kind\":\"skipped\",\"store\":\"$store\",\"size\":$size,\"reason\":\"$skip\"}"
			continue
		fi
		if [ "$rate" != 0 ]; then
			predicted=$(awk -v n=$((size - prev)) -v r="$rate" 'BEGIN { printf "%.0f", n / r }')
			if [ "$predicted" -gt "$SCALE_BUDGET" ]; then
				skip="ingest of $((size - prev)) sightings at $rate/s (the previous increment's rate) would take $predicted s > SCALE_BUDGET=$SCALE_BUDGET s"
				log "$store: skipping $size: $skip"
				record "{\"kind\":\"skipped\",\"store\":\"$store\",\"size\":$size,\"predicted_s\":$predicted,\"reason\":\"$skip\"}"
				continue
			fi
		fi
		log "$store: growing $prev -> $size edges (load $(cut -d' ' -f1-3 /proc/loadavg))"
		g=$("$BIN/scale" grow -store "$DSN" -from "$prev" -to "$size" -batch "$SCALE_BATCH" "${MODEL[@]}" 2> >(tee -a "$RUN/grow.log" >&2))
		record "{\"kind\":\"ingest\",\"store\":\"$store\",\"size\":$size,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"grow\":$g}"
		rate=$(echo "$g" | grep -o '"sightings":[0-9]*,"sighting_seconds":[0-9.e+-]*' | awk -F'[:,]' '{ printf "%.0f", $2 / $4 }')
		prev=$size
		"bytes_$store" "$size"
		pages "$store" "$size" "$DSN"
	done
	if [ "$store" = postgres ]; then
		scripts/pg-test-server.sh stop || true
		PG_STARTED=0
	elif [ "$SCALE_KEEP" != 1 ]; then
		rm -f "$SQLITE_DB" "$SQLITE_DB-wal" "$SQLITE_DB-shm"
	fi
done

# --- tables ---------------------------------------------------------------------
cat >"$RUN/info.env" <<EOF
date=$STARTED
command=$COMMAND
commit=$BUILT_FROM
go=$(go env GOVERSION)
postgres=$("$PGBIN/postgres" --version)
sqlite=$(sqlite3 --version | cut -d' ' -f1)
cpu=$(nproc) x $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
EOF
go run ./bench/scale/tables -results "$RESULTS" -info "$RUN/info.env" >"$RUN/tables.md"
log "done: $RUN/tables.md"
