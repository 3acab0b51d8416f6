#!/usr/bin/env bash
# pg-test-server.sh: a throwaway PostgreSQL for the test suites.
#
#   scripts/pg-test-server.sh start   initialise and start a cluster; prints
#                                     FILETRAIL_TEST_POSTGRES=postgres://...
#   scripts/pg-test-server.sh env     print that line again
#   scripts/pg-test-server.sh stop    stop the cluster and delete its files
#
# Typical use:
#   export "$(scripts/pg-test-server.sh start)"
#   go test ./store/postgres/...
#   scripts/pg-test-server.sh stop
#
# The cluster lives in a fresh temporary directory, listens on a free port of
# 127.0.0.1 only, trusts local connections (it holds nothing but test data)
# and runs with fsync off. PostgreSQL refuses to run as root: when started as
# root the cluster runs as the system user $FILETRAIL_PG_USER (default
# filetrail-pg), created if missing. The binaries are Debian's postgresql-15
# ($FILETRAIL_PG_BIN overrides the directory); under CI=true a missing
# postgresql-15 package is installed with apt-get.
#
# State (the cluster's directory) is remembered in $FILETRAIL_PG_STATE
# (default ${TMPDIR:-/tmp}/filetrail-pg-test.state), so start, env and stop
# may run from different shells. Messages go to stderr; stdout carries only
# the FILETRAIL_TEST_POSTGRES line.
set -euo pipefail

PG_USER="${FILETRAIL_PG_USER:-filetrail-pg}"
STATE="${FILETRAIL_PG_STATE:-${TMPDIR:-/tmp}/filetrail-pg-test.state}"

log() { echo "pg-test-server: $*" >&2; }
die() { log "$*"; exit 1; }

find_bin() {
	local d
	for d in "${FILETRAIL_PG_BIN:-}" /usr/lib/postgresql/15/bin; do
		if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

ensure_bin() {
	if BIN="$(find_bin)"; then
		return 0
	fi
	if [ "${CI:-}" = "true" ] && [ "$(id -u)" = 0 ]; then
		log "postgresql-15 not found: installing it"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2
		apt-get install -y -qq postgresql-15 >&2
		BIN="$(find_bin)" || die "postgresql-15 installed but initdb not found"
		return 0
	fi
	die "PostgreSQL 15 binaries not found in /usr/lib/postgresql/15/bin: install postgresql-15 (apt-get install postgresql-15) or set FILETRAIL_PG_BIN"
}

# as_user runs a command as the cluster's owner.
as_user() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$PG_USER" -- "$@"
	else
		"$@"
	fi
}

ensure_user() {
	[ "$(id -u)" = 0 ] || return 0
	if ! id -u "$PG_USER" >/dev/null 2>&1; then
		log "creating system user $PG_USER"
		useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_USER"
	fi
}

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

dsn_line() {
	echo "FILETRAIL_TEST_POSTGRES=postgres://postgres@127.0.0.1:$1/postgres?sslmode=disable"
}

cmd_start() {
	if [ -f "$STATE" ]; then
		local dir
		dir="$(cat "$STATE")"
		if [ -f "$dir/port" ] && [ -f "$dir/data/postmaster.pid" ]; then
			log "already running in $dir"
			dsn_line "$(cat "$dir/port")"
			return 0
		fi
	fi
	ensure_bin
	ensure_user
	local dir
	dir="$(mktemp -d "${TMPDIR:-/tmp}/filetrail-pg.XXXXXX")"
	chmod 0755 "$dir"
	if [ "$(id -u)" = 0 ]; then
		chown "$PG_USER" "$dir"
	fi
	echo "$dir" >"$STATE"
	as_user "$BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; die "initdb failed"; }
	local port tries=0
	while :; do
		tries=$((tries + 1))
		[ "$tries" -le 20 ] || die "no free port found to start PostgreSQL (see $dir/postgres.log)"
		port=$((20000 + RANDOM % 30000))
		port_free "$port" || continue
		if as_user "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 \
			-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=256MB" \
			start >&2; then
			break
		fi
		log "start on port $port failed, trying another"
	done
	echo "$port" >"$dir/port"
	log "PostgreSQL running in $dir on 127.0.0.1:$port"
	dsn_line "$port"
}

cmd_env() {
	[ -f "$STATE" ] || die "not running (no $STATE)"
	local dir
	dir="$(cat "$STATE")"
	[ -f "$dir/port" ] || die "not running (no $dir/port)"
	dsn_line "$(cat "$dir/port")"
}

cmd_stop() {
	[ -f "$STATE" ] || { log "not running"; return 0; }
	local dir
	dir="$(cat "$STATE")"
	if [ -f "$dir/data/postmaster.pid" ]; then
		BIN="$(find_bin)" || die "PostgreSQL binaries not found"
		as_user "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || log "pg_ctl stop failed"
	fi
	case "$dir" in
	"${TMPDIR:-/tmp}"/filetrail-pg.*) rm -rf "$dir" ;;
	*) log "not removing unexpected directory $dir" ;;
	esac
	rm -f "$STATE"
	log "stopped"
}

case "${1:-}" in
start) cmd_start ;;
env) cmd_env ;;
stop) cmd_stop ;;
*)
	echo "usage: $0 start|env|stop" >&2
	exit 2
	;;
esac
