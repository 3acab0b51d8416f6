#!/usr/bin/env bash
# bench/run.sh: measure filetrail's downloaded_files pages next to nginx
# serving the same response bytes from files, and write the report.
#
# Steps: build filetrail and the bench tools; seed the store (reused when a
# store of the same dataset exists); create a premium key; serve the store
# twice: `filetrail` (default settings: response cache on) and
# `filetrail-nocache` (--response-cache-mib 0: every request reads the
# store); fetch each scenario's exact response bytes and check both agree;
# serve those bytes with nginx (sendfile, gzip_static) and with Go's net/http
# from memory (bench/staticserve: the ceiling of any net/http server;
# filetrail's plain HTTP is fasthttp); run
# wrk against the four, scenario by scenario; sample the filetrail
# processes' RSS; run
# bench/ingest.sh when it is there; write the report. Loopback only; every
# step is bounded in time; the servers are stopped on exit.
#
# Settings (environment, defaults in brackets):
#   BENCH_EDGES [1000000]     files of the big IP (edges on it)
#   BENCH_SMALL_IPS [10000]   small IPs with a power-law handful of files
#   BENCH_BIG_IPS [1]         IPs with BENCH_EDGES files each (files shared)
#   BENCH_FILES [0]           distinct file documents (0: BENCH_EDGES)
#   BENCH_SEED [1]            dataset seed
#   BENCH_DEEP_AFTER [EDGES/2] items before the deep page
#   BENCH_LIMITS ["10 40"]    page sizes
#   BENCH_PAGES ["first deep random"]
#   BENCH_RANDOM_IPS [1000]   small IPs the random scenario walks through
#   BENCH_THREADS [2] BENCH_CONNECTIONS [32] BENCH_DURATION [10s] BENCH_WARMUP [2s]
#   BENCH_DIR [bench/out]     builds, stores and runs
#   BENCH_INGEST [1]          0: do not run bench/ingest.sh
#   BENCH_INGEST_ARGS ["INGEST_SIGHTINGS=200000 INGEST_RUNS=3 INGEST_PG=0"]
#                             environment for bench/ingest.sh (VAR=value words)
#   BENCH_REPORT              [docs/PERFORMANCE.md at >= 1,000,000 edges,
#                              else BENCH_DIR/PERFORMANCE-smoke.md]
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
# The exact command, for the report: the BENCH_* settings given, then us.
COMMAND=$(exact_command BENCH_ bench/run.sh)

: "${BENCH_EDGES:=1000000}"
: "${BENCH_SMALL_IPS:=10000}"
: "${BENCH_BIG_IPS:=1}"
: "${BENCH_FILES:=0}"
: "${BENCH_SEED:=1}"
: "${BENCH_DEEP_AFTER:=$((BENCH_EDGES / 2))}"
: "${BENCH_LIMITS:=10 40}"
: "${BENCH_PAGES:=first deep random}"
: "${BENCH_RANDOM_IPS:=1000}"
: "${BENCH_INGEST:=1}"
: "${BENCH_INGEST_ARGS:=INGEST_SIGHTINGS=200000 INGEST_RUNS=3 INGEST_PG=0}"
: "${BENCH_THREADS:=2}"
: "${BENCH_CONNECTIONS:=32}"
: "${BENCH_DURATION:=10s}"
: "${BENCH_WARMUP:=2s}"
: "${BENCH_DIR:=bench/out}"
if [ "$BENCH_EDGES" -ge 1000000 ]; then
	: "${BENCH_REPORT:=docs/PERFORMANCE.md}"
else
	: "${BENCH_REPORT:=$BENCH_DIR/PERFORMANCE-smoke.md}"
fi
RSS_INTERVAL=0.5
# Links in the pages start with this, whatever port a server listens on, so
# both filetrail servers answer the same bytes.
PUBLIC_URL=http://filetrail.bench.test
export BENCH_THREADS # bench/wrk/paths.lua spreads its threads over the list

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

for tool in go wrk nginx curl gzip cmp ss timeout; do
	command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install -y nginx-light wrk curl gzip diffutils iproute2)"
done

# seconds DURATION: wrk's duration (10s, 2m, 1h, or plain seconds) in seconds.
seconds() {
	case $1 in
	*s) echo "${1%s}" ;;
	*m) echo $((${1%m} * 60)) ;;
	*h) echo $((${1%h} * 3600)) ;;
	*) echo "$1" ;;
	esac
}
DURATION_S=$(seconds "$BENCH_DURATION")
WARMUP_S=$(seconds "$BENCH_WARMUP")

mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
BIN=$BENCH_DIR/bin
RUN=$BENCH_DIR/run-$(date -u +%Y%m%dT%H%M%SZ)-$$
mkdir -p "$BIN" "$RUN/pages" "$RUN/wrk" "$RUN/nginx/tmp"
: >"$RUN/results.jsonl"

# --- servers are ours to stop ------------------------------------------------
PIDS=()
cleanup() { [ ${#PIDS[@]} -eq 0 ] || stop_pids "${PIDS[@]}"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

warn() {
	log "warning: $*"
	printf -- '- %s\n' "$*" >>"$RUN/warnings.md"
}

# --- build and seed ----------------------------------------------------------
log "building into $BIN"
BUILT_FROM=$(tree_commit)
go build -o "$BIN/filetrail" ./cmd/filetrail
go build -o "$BIN/seed" ./bench/seed
go build -o "$BIN/report" ./bench/report
go build -o "$BIN/pagefetch" ./bench/pagefetch
go build -o "$BIN/staticserve" ./bench/staticserve

DATASET=(-seed "$BENCH_SEED" -edges "$BENCH_EDGES" -big-ips "$BENCH_BIG_IPS" -small-ips "$BENCH_SMALL_IPS" -files "$BENCH_FILES")
DB=$BENCH_DIR/store-e$BENCH_EDGES-s$BENCH_SEED.db
log "seeding $DB (reused when it holds the same dataset)"
"$BIN/seed" gen -out "$DB" "${DATASET[@]}"
IP=$("$BIN/seed" ip -big 0)
DEEP_CURSOR=$("$BIN/seed" cursor -after "$BENCH_DEEP_AFTER" "${DATASET[@]}")

KEY=$("$BIN/filetrail" keys create --store "$DB" --name "bench-$(date -u +%Y%m%d%H%M%S)-$$" --premium | sed -n 1p)
[ ${#KEY} -ge 32 ] || die "keys create printed no key"

# --- filetrail, with and without its response cache ----------------------------
# serve NAME [flags...]: start filetrail serve on a free port; sets PORT and
# SERVE_PID. The cache settings come from the flags alone, not from the
# environment.
serve() {
	local name=$1
	shift
	PORT=$(free_port)
	env -u FILETRAIL_RESPONSE_CACHE_MIB -u FILETRAIL_RESPONSE_CACHE_TTL \
		"$BIN/filetrail" serve --store "$DB" --addr "127.0.0.1:$PORT" --public-url "$PUBLIC_URL" "$@" >"$RUN/$name.log" 2>&1 &
	SERVE_PID=$!
	PIDS+=("$SERVE_PID")
	for _ in $(seq 240); do
		curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break
		kill -0 "$SERVE_PID" 2>/dev/null || die "$name: filetrail serve exited: $(tail -5 "$RUN/$name.log")"
		sleep 0.5
	done
	curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$PORT/healthz" || die "$name did not answer /healthz within 120 s"
	log "$name serving on http://127.0.0.1:$PORT (pid $SERVE_PID)"
}
# One after the other: the first one migrates an older store.
serve filetrail
FT=http://127.0.0.1:$PORT
FT_PID=$SERVE_PID
serve filetrail-nocache --response-cache-mib 0
FTN=http://127.0.0.1:$PORT
FTN_PID=$SERVE_PID
CACHE_DEFAULTS=$("$BIN/filetrail" serve --help | grep -o -- '--response-cache-[a-z]*=[^ ]*' | tr '\n' ' ' | sed 's/ $//')

# meta_field PAGE FIELD: a field of the page's meta object.
meta_field() {
	grep -o '"meta":{[^}]*}' "$1" | grep -o "\"$2\":[^,}]*" | cut -d: -f2- | tr -d '"' || true
}

# --- fetch the exact bytes of each page ----------------------------------------
SCENARIOS=()
for page in $BENCH_PAGES; do
	[ "$page" != random ] || continue
	for limit in $BENCH_LIMITS; do
		case $page in
		first) query="limit=$limit" ;;
		deep) query="cursor=$DEEP_CURSOR&limit=$limit" ;;
		*) die "unknown page $page (first, deep or random)" ;;
		esac
		name=$page-l$limit
		url="$FT/api/v3/ip_addresses/$IP/downloaded_files?$query"
		echo "$url" >"$RUN/pages/$name.url"
		body=$RUN/pages/$name.json
		code=$(curl -sS --max-time 60 -H "x-apikey: $KEY" -D "$body.headers" -o "$body" -w '%{http_code}' "$url")
		[ "$code" = 200 ] || die "$name: HTTP $code from $url: $(head -c 300 "$body")"
		code=$(curl -sS --max-time 60 -H "x-apikey: $KEY" -H 'Accept-Encoding: gzip' -D "$body.gz.headers" -o "$body.gz" -w '%{http_code}' "$url")
		[ "$code" = 200 ] || die "$name (gzip): HTTP $code"
		grep -qi '^content-encoding: *gzip' "$body.gz.headers" || die "$name: no gzip answer to Accept-Encoding: gzip"
		gzip -dc "$body.gz" | cmp -s - "$body" || warn "$name: the gzip body does not decompress to the identity body"
		# Cache or store: the same bytes.
		curl -fsS --max-time 60 -H "x-apikey: $KEY" "${url/#$FT/$FTN}" | cmp -s - "$body" ||
			die "$name: filetrail-nocache does not answer the bytes filetrail answers"
		curl -fsS --max-time 60 -H "x-apikey: $KEY" -H 'Accept-Encoding: gzip' "${url/#$FT/$FTN}" | cmp -s - "$body.gz" ||
			die "$name: filetrail-nocache does not answer the gzip bytes filetrail answers"
		count=$(meta_field "$body" count)
		[ "$count" = "$BENCH_EDGES" ] || warn "$name: meta.count is '$count', expected $BENCH_EDGES"
		# The page ends where the dataset model says: the cursor the seed
		# tool builds is the one the API hands out, so the deep page is
		# really after BENCH_DEEP_AFTER items.
		end=$limit
		[ "$page" = first ] || end=$((BENCH_DEEP_AFTER + limit))
		if [ "$end" -lt "$BENCH_EDGES" ]; then
			want=$("$BIN/seed" cursor -after "$end" "${DATASET[@]}")
			got=$(meta_field "$body" cursor)
			[ "$got" = "$want" ] || die "$name: meta.cursor '$got' is not the dataset's cursor after item $end, '$want'"
		fi
		SCENARIOS+=("$name" "$name-gz")
		log "$name: $(stat -c %s "$body") bytes, gzip $(stat -c %s "$body.gz") bytes"
	done
done

# --- random: the first page of a different small IP at each request --------------
# Each IP's pages are saved as pages/random-lN/K.json(.gz); wrk walks a list
# of paths: the API paths on filetrail, those files on nginx.
RANDOM_SERVED=0
if [[ " $BENCH_PAGES " == *" random "* ]]; then
	if [ "$BENCH_SMALL_IPS" -lt 1 ] || [ "$BENCH_RANDOM_IPS" -lt 1 ]; then
		warn "random: skipped (BENCH_SMALL_IPS=$BENCH_SMALL_IPS, BENCH_RANDOM_IPS=$BENCH_RANDOM_IPS)"
	else
		"$BIN/seed" small -n "$BENCH_RANDOM_IPS" "${DATASET[@]}" >"$RUN/random-ips.txt"
		RANDOM_SERVED=$(wc -l <"$RUN/random-ips.txt")
		for limit in $BENCH_LIMITS; do
			name=random-l$limit
			awk -v l="$limit" -v n="$name" '{print n "/" $1, "/api/v3/ip_addresses/" $2 "/downloaded_files?limit=" l, $3}' \
				"$RUN/random-ips.txt" >"$RUN/$name.list"
			cut -d' ' -f2 "$RUN/$name.list" >"$RUN/$name.filetrail.paths"
			cut -d' ' -f1 "$RUN/$name.list" | sed 's|^|/|; s|$|.json|' >"$RUN/$name.nginx.paths"
			start=$(date +%s)
			timeout 1800 "$BIN/pagefetch" -base "$FT" -key "$KEY" -out "$RUN/pages" <"$RUN/$name.list" ||
				die "$name: fetching the pages from filetrail failed"
			timeout 1800 "$BIN/pagefetch" -base "$FTN" -key "$KEY" -out "$RUN/pages-nocache" <"$RUN/$name.list" ||
				die "$name: fetching the pages from filetrail-nocache failed"
			diff -rq "$RUN/pages/$name" "$RUN/pages-nocache/$name" >"$RUN/$name.diff" ||
				die "$name: filetrail and filetrail-nocache answer different bytes ($RUN/$name.diff)"
			SCENARIOS+=("$name" "$name-gz")
			log "$name: $RANDOM_SERVED small IPs' pages fetched twice and checked in $(($(date +%s) - start)) s, $(du -sh "$RUN/pages/$name" | cut -f1)"
		done
		rm -rf "$RUN/pages-nocache"
	fi
fi
[ ${#SCENARIOS[@]} -gt 0 ] || die "no scenario to run (BENCH_PAGES=$BENCH_PAGES)"

# --- nginx on the same bytes ---------------------------------------------------
NG=$RUN/nginx
NG_PORT=$(free_port)
cat >"$NG/nginx.conf" <<EOF
user $(id -un);
worker_processes $(nproc);
daemon off;
pid $NG/nginx.pid;
error_log $NG/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $NG/tmp/body;
    proxy_temp_path $NG/tmp/proxy;
    fastcgi_temp_path $NG/tmp/fastcgi;
    uwsgi_temp_path $NG/tmp/uwsgi;
    scgi_temp_path $NG/tmp/scgi;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
    types { }
    default_type application/json;
    gzip off;
    gzip_static on;
    server {
        listen 127.0.0.1:$NG_PORT;
        root $RUN/pages;
    }
}
EOF
nginx -t -q -p "$NG" -c "$NG/nginx.conf" 2>"$NG/check.log" || die "nginx config: $(cat "$NG/check.log")"
nginx -p "$NG" -c "$NG/nginx.conf" >"$NG/stdout.log" 2>&1 &
NG_PID=$!
PIDS+=("$NG_PID")
NGX=http://127.0.0.1:$NG_PORT
# await_listening NAME PID URL LOG: wait up to 10 s for an HTTP answer of any
# status at URL; die with LOG's content if PID exits first.
await_listening() {
	for _ in $(seq 40); do
		[ "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$3/" 2>/dev/null)" = 000 ] || return 0
		kill -0 "$2" 2>/dev/null || die "$1 exited: $(cat "$4")"
		sleep 0.25
	done
}
await_listening nginx "$NG_PID" "$NGX" "$NG/error.log"
# static_files SCENARIO: the files (under the root) the static servers send
# for it: its page, or for random the first 50 of its list.
static_files() {
	local base=${1%-gz}
	case $base in
	random-*) head -50 "$RUN/$base.nginx.paths" | sed 's|^/||' ;;
	*) echo "$base.json" ;;
	esac
}
# check_same_bytes SERVER BASE: SERVER (at BASE) sends each scenario's
# bytes, the gzip ones with Content-Encoding: gzip.
check_same_bytes() {
	local server=$1 base=$2 name file
	for name in "${SCENARIOS[@]}"; do
		for file in $(static_files "$name"); do
			if [ "$name" != "${name%-gz}" ]; then
				curl -fsS --max-time 10 -H 'Accept-Encoding: gzip' -D "$RUN/$server-$name.headers" "$base/$file" | cmp -s - "$RUN/pages/$file.gz" ||
					die "$server does not serve the gzip bytes of $name ($file)"
				grep -qi '^content-encoding: *gzip' "$RUN/$server-$name.headers" || die "$server sends $name without Content-Encoding: gzip"
			else
				curl -fsS --max-time 10 "$base/$file" | cmp -s - "$RUN/pages/$file" || die "$server does not serve the bytes of $name ($file)"
			fi
		done
	done
}
check_same_bytes nginx "$NGX"
log "nginx serving the same bytes on $NGX (pid $NG_PID)"

# --- Go's net/http on the same bytes, from memory ------------------------------
GS_PORT=$(free_port)
"$BIN/staticserve" -addr "127.0.0.1:$GS_PORT" -root "$RUN/pages" >"$RUN/go-static.log" 2>&1 &
GS_PID=$!
PIDS+=("$GS_PID")
GS=http://127.0.0.1:$GS_PORT
await_listening staticserve "$GS_PID" "$GS" "$RUN/go-static.log"
check_same_bytes go-static "$GS"
log "go-static (net/http) serving the same bytes on $GS (pid $GS_PID)"

# --- load ----------------------------------------------------------------------
# sample_rss PID FILE: VmRSS, RssAnon, RssFile (kB) of PID every
# RSS_INTERVAL seconds while it lives.
# The samples are appended (O_APPEND), so the VmHWM line added at the end of
# the load lands after them even while the sampler is still running.
sample_rss() {
	: >"$2"
	while kill -0 "$1" 2>/dev/null; do
		awk '/^VmRSS:/{r=$2} /^RssAnon:/{a=$2} /^RssFile:/{f=$2} END{if (r != "") printf "%s\t%s\t%s\n", r, a, f}' \
			"/proc/$1/status" 2>/dev/null || true
		sleep "$RSS_INTERVAL"
	done >>"$2"
}
sample_rss "$FT_PID" "$RUN/rss-filetrail.tsv" &
PIDS+=("$!")
sample_rss "$FTN_PID" "$RUN/rss-filetrail-nocache.tsv" &
PIDS+=("$!")

# wrk_run SERVER SCENARIO SCRIPT URL [curl-style -H args...]: a warm-up
# run, then the measured run; the script's JSON line goes to results.jsonl.
# BENCH_PATHS, when set, is the path list of bench/wrk/paths.lua.
wrk_run() {
	local server=$1 scenario=$2 script=$3 url=$4
	shift 4
	if [ "$WARMUP_S" != 0 ]; then
		timeout $((WARMUP_S + 30)) wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"$BENCH_WARMUP" -s "$script" "$@" "$url" >/dev/null
	fi
	BENCH_SERVER=$server BENCH_SCENARIO=$scenario timeout $((DURATION_S + 30)) \
		wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"$BENCH_DURATION" -s "$script" "$@" "$url" \
		>"$RUN/wrk/$server-$scenario.txt"
	grep '^{"server"' "$RUN/wrk/$server-$scenario.txt" >>"$RUN/results.jsonl" || die "wrk printed no result for $server $scenario"
	log "$server $scenario: $(grep -m1 'Requests/sec' "$RUN/wrk/$server-$scenario.txt" | tr -s ' ')"
}

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
for name in "${SCENARIOS[@]}"; do
	base=${name%-gz}
	headers=(-H "x-apikey: $KEY")
	[ "$name" = "$base" ] || headers+=(-H 'Accept-Encoding: gzip')
	case $base in
	random-*)
		BENCH_PATHS=$RUN/$base.filetrail.paths wrk_run filetrail "$name" bench/wrk/paths.lua "$FT/" "${headers[@]}"
		BENCH_PATHS=$RUN/$base.filetrail.paths wrk_run filetrail-nocache "$name" bench/wrk/paths.lua "$FTN/" "${headers[@]}"
		BENCH_PATHS=$RUN/$base.nginx.paths wrk_run nginx "$name" bench/wrk/paths.lua "$NGX/" "${headers[@]}"
		BENCH_PATHS=$RUN/$base.nginx.paths wrk_run go-static "$name" bench/wrk/paths.lua "$GS/" "${headers[@]}"
		;;
	*)
		url=$(cat "$RUN/pages/$base.url")
		wrk_run filetrail "$name" bench/wrk/report.lua "$url" "${headers[@]}"
		wrk_run filetrail-nocache "$name" bench/wrk/report.lua "${url/#$FT/$FTN}" "${headers[@]}"
		wrk_run nginx "$name" bench/wrk/report.lua "$NGX/$base.json" "${headers[@]}"
		wrk_run go-static "$name" bench/wrk/report.lua "$GS/$base.json" "${headers[@]}"
		;;
	esac
done
awk '/^VmHWM:/{print "hwm", $2}' "/proc/$FT_PID/status" >>"$RUN/rss-filetrail.tsv"
awk '/^VmHWM:/{print "hwm", $2}' "/proc/$FTN_PID/status" >>"$RUN/rss-filetrail-nocache.tsv"
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

stop_pids "${PIDS[@]}"
PIDS=()

# --- ingest: filetrail ingest next to the sqlite3 CLI (bench/ingest.sh) ---------
# Its report goes to $RUN/ingest/ (its data and raw outputs to BENCH_DIR);
# the report tool reads the rate table from it. A failure is a warning: the
# API figures stand alone.
if [ "$BENCH_INGEST" != 0 ] && [ -f bench/ingest.sh ]; then
	mkdir -p "$RUN/ingest"
	log "ingest: bench/ingest.sh with $BENCH_INGEST_ARGS"
	# shellcheck disable=SC2086 # BENCH_INGEST_ARGS is a list of VAR=value words
	if env INGEST_DIR="$BENCH_DIR" INGEST_REPORT="$RUN/ingest/PERFORMANCE-ingest.md" $BENCH_INGEST_ARGS \
		timeout 3600 bash bench/ingest.sh >"$RUN/ingest/stdout.log" 2>"$RUN/ingest/stderr.log"; then
		log "ingest: done"
	else
		warn "bench/ingest.sh failed (status $?): $(tail -3 "$RUN/ingest/stderr.log" | tr '\n' ' ')"
	fi
elif [ "$BENCH_INGEST" != 0 ]; then
	log "ingest: bench/ingest.sh not found, not measured"
fi

# --- report --------------------------------------------------------------------
cat >"$RUN/info.env" <<EOF
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$BUILT_FROM
go_version=$(go version)
nginx_version=$(nginx -v 2>&1 | sed 's/^nginx version: //')
wrk_version=$(wrk -v 2>&1 | awk 'NR==1{print $1, $2}')
threads=$BENCH_THREADS
connections=$BENCH_CONNECTIONS
duration=$BENCH_DURATION
warmup=$BENCH_WARMUP
deep_after=$BENCH_DEEP_AFTER
rss_interval=$RSS_INTERVAL
loadavg_start=$LOADAVG_START
loadavg_end=$LOADAVG_END
random_ips=$RANDOM_SERVED
ingest_args=$BENCH_INGEST_ARGS
cache_defaults=$CACHE_DEFAULTS
EOF
mkdir -p "$(dirname "$BENCH_REPORT")"
"$BIN/report" -run "$RUN" -manifest "$DB.manifest.json" -command "$COMMAND" -docs docs -out "$BENCH_REPORT"
log "report written to $BENCH_REPORT (run files in $RUN)"
