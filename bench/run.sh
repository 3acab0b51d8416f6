#!/usr/bin/env bash
# bench/run.sh: measure filetrail's downloaded_files pages next to nginx
# serving the same response bytes from files, and write the report.
#
# Steps: build filetrail and the bench tools; seed the store (reused when a
# store of the same dataset exists); create a premium key; serve the store
# and fetch each scenario's exact response bytes; serve those bytes with
# nginx (sendfile, gzip_static); run wrk against both, scenario by
# scenario; sample filetrail's RSS; write the report. Loopback only; every
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
#   BENCH_PAGES ["first deep"]
#   BENCH_THREADS [2] BENCH_CONNECTIONS [32] BENCH_DURATION [10s] BENCH_WARMUP [2s]
#   BENCH_DIR [bench/out]     builds, stores and runs
#   BENCH_REPORT              [docs/PERFORMANCE-api.md at >= 1,000,000 edges,
#                              else BENCH_DIR/PERFORMANCE-smoke.md]
set -euo pipefail

# The exact command, for the report: the BENCH_* settings given, then us.
COMMAND=""
for v in $(compgen -e | grep '^BENCH_' | sort); do
	COMMAND+="$v=$(printf %q "${!v}") "
done
COMMAND+="bench/run.sh"

cd "$(dirname "$0")/.."

: "${BENCH_EDGES:=1000000}"
: "${BENCH_SMALL_IPS:=10000}"
: "${BENCH_BIG_IPS:=1}"
: "${BENCH_FILES:=0}"
: "${BENCH_SEED:=1}"
: "${BENCH_DEEP_AFTER:=$((BENCH_EDGES / 2))}"
: "${BENCH_LIMITS:=10 40}"
: "${BENCH_PAGES:=first deep}"
: "${BENCH_THREADS:=2}"
: "${BENCH_CONNECTIONS:=32}"
: "${BENCH_DURATION:=10s}"
: "${BENCH_WARMUP:=2s}"
: "${BENCH_DIR:=bench/out}"
if [ "$BENCH_EDGES" -ge 1000000 ]; then
	: "${BENCH_REPORT:=docs/PERFORMANCE-api.md}"
else
	: "${BENCH_REPORT:=$BENCH_DIR/PERFORMANCE-smoke.md}"
fi
RSS_INTERVAL=0.5

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
stop() {
	local pid
	for pid in "$@"; do kill "$pid" 2>/dev/null || true; done
	for pid in "$@"; do
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}
cleanup() { [ ${#PIDS[@]} -eq 0 ] || stop "${PIDS[@]}"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 40000))
		if [ -z "$(ss -Htln "sport = :$p")" ]; then
			echo "$p"
			return 0
		fi
	done
	die "no free loopback port"
}

warn() {
	log "warning: $*"
	printf -- '- %s\n' "$*" >>"$RUN/warnings.md"
}

# --- build and seed ----------------------------------------------------------
log "building into $BIN"
go build -o "$BIN/filetrail" ./cmd/filetrail
go build -o "$BIN/seed" ./bench/seed
go build -o "$BIN/report" ./bench/report

DATASET=(-seed "$BENCH_SEED" -edges "$BENCH_EDGES" -big-ips "$BENCH_BIG_IPS" -small-ips "$BENCH_SMALL_IPS" -files "$BENCH_FILES")
DB=$BENCH_DIR/store-e$BENCH_EDGES-s$BENCH_SEED.db
log "seeding $DB (reused when it holds the same dataset)"
"$BIN/seed" gen -out "$DB" "${DATASET[@]}"
IP=$("$BIN/seed" ip -big 0)
DEEP_CURSOR=$("$BIN/seed" cursor -after "$BENCH_DEEP_AFTER" "${DATASET[@]}")

KEY=$("$BIN/filetrail" keys create --store "$DB" --name "bench-$(date -u +%Y%m%d%H%M%S)-$$" --premium | sed -n 1p)
[ ${#KEY} -ge 32 ] || die "keys create printed no key"

# --- filetrail ---------------------------------------------------------------
FT_PORT=$(free_port)
FT=http://127.0.0.1:$FT_PORT
"$BIN/filetrail" serve --store "$DB" --addr "127.0.0.1:$FT_PORT" >"$RUN/filetrail.log" 2>&1 &
FT_PID=$!
PIDS+=("$FT_PID")
for _ in $(seq 240); do
	curl -fsS --max-time 2 -o /dev/null "$FT/healthz" 2>/dev/null && break
	kill -0 "$FT_PID" 2>/dev/null || die "filetrail serve exited: $(tail -5 "$RUN/filetrail.log")"
	sleep 0.5
done
curl -fsS --max-time 2 -o /dev/null "$FT/healthz" || die "filetrail did not answer /healthz within 120 s"
log "filetrail serving on $FT (pid $FT_PID)"

# meta_field PAGE FIELD: a field of the page's meta object.
meta_field() {
	grep -o '"meta":{[^}]*}' "$1" | grep -o "\"$2\":[^,}]*" | cut -d: -f2- | tr -d '"' || true
}

# --- fetch the exact bytes of each page ----------------------------------------
SCENARIOS=()
for page in $BENCH_PAGES; do
	for limit in $BENCH_LIMITS; do
		case $page in
		first) query="limit=$limit" ;;
		deep) query="cursor=$DEEP_CURSOR&limit=$limit" ;;
		*) die "unknown page $page (first or deep)" ;;
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
for _ in $(seq 40); do
	curl -fsS --max-time 2 -o /dev/null "$NGX/${SCENARIOS[0]%-gz}.json" 2>/dev/null && break
	kill -0 "$NG_PID" 2>/dev/null || die "nginx exited: $(cat "$NG/error.log")"
	sleep 0.25
done
for name in "${SCENARIOS[@]}"; do
	file=${name%-gz}.json
	if [ "$name" != "${name%-gz}" ]; then
		curl -fsS --max-time 10 -H 'Accept-Encoding: gzip' -D "$NG/$name.headers" "$NGX/$file" | cmp -s - "$RUN/pages/$file.gz" ||
			die "nginx does not serve the gzip bytes of $name"
		grep -qi '^content-encoding: *gzip' "$NG/$name.headers" || die "nginx gzip_static is not in effect for $name"
	else
		curl -fsS --max-time 10 "$NGX/$file" | cmp -s - "$RUN/pages/$file" || die "nginx does not serve the bytes of $name"
	fi
done
log "nginx serving the same bytes on $NGX (pid $NG_PID)"

# --- load ----------------------------------------------------------------------
(
	while kill -0 "$FT_PID" 2>/dev/null; do
		awk '/^VmRSS:/{r=$2} /^RssAnon:/{a=$2} /^RssFile:/{f=$2} END{if (r != "") printf "%s\t%s\t%s\n", r, a, f}' \
			"/proc/$FT_PID/status" 2>/dev/null || true
		sleep "$RSS_INTERVAL"
	done
) >"$RUN/rss.tsv" &
PIDS+=("$!")

# wrk_run SERVER SCENARIO URL [curl-style -H args...]
wrk_run() {
	local server=$1 scenario=$2 url=$3
	shift 3
	if [ "$WARMUP_S" != 0 ]; then
		timeout $((WARMUP_S + 30)) wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"$BENCH_WARMUP" "$@" "$url" >/dev/null
	fi
	BENCH_SERVER=$server BENCH_SCENARIO=$scenario timeout $((DURATION_S + 30)) \
		wrk -t"$BENCH_THREADS" -c"$BENCH_CONNECTIONS" -d"$BENCH_DURATION" -s bench/wrk/report.lua "$@" "$url" \
		>"$RUN/wrk/$server-$scenario.txt"
	grep '^{"server"' "$RUN/wrk/$server-$scenario.txt" >>"$RUN/results.jsonl" || die "wrk printed no result for $server $scenario"
	log "$server $scenario: $(grep -m1 'Requests/sec' "$RUN/wrk/$server-$scenario.txt" | tr -s ' ')"
}

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
for name in "${SCENARIOS[@]}"; do
	base=${name%-gz}
	headers=(-H "x-apikey: $KEY")
	[ "$name" = "$base" ] || headers+=(-H 'Accept-Encoding: gzip')
	wrk_run filetrail "$name" "$(cat "$RUN/pages/$base.url")" "${headers[@]}"
	wrk_run nginx "$name" "$NGX/$base.json" "${headers[@]}"
done
awk '/^VmHWM:/{print "hwm", $2}' "/proc/$FT_PID/status" >>"$RUN/rss.tsv"
LOADAVG_END=$(cut -d' ' -f1-3 /proc/loadavg)

stop "${PIDS[@]}"
PIDS=()

# --- report --------------------------------------------------------------------
cat >"$RUN/info.env" <<EOF
date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')
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
EOF
mkdir -p "$(dirname "$BENCH_REPORT")"
"$BIN/report" -run "$RUN" -manifest "$DB.manifest.json" -command "$COMMAND" -out "$BENCH_REPORT"
log "report written to $BENCH_REPORT (run files in $RUN)"
