#!/usr/bin/env bash
# test.sh: the whole test suite, as the README says and CI runs it.
#
# Starts a throwaway PostgreSQL (scripts/pg-test-server.sh) unless
# FILETRAIL_TEST_POSTGRES already names one, so that the PostgreSQL store's
# suites run too, then runs `go test ./...` (extra arguments are passed on),
# runs the HTTP API suite (vtapi, with the official client's tests) a second
# time on a PostgreSQL-backed server, and stops the server. Under CI=true a PostgreSQL that cannot be started is
# a failure; on a developer machine without PostgreSQL 15 the PostgreSQL
# tests are skipped, and both this script and the tests say so loudly.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${FILETRAIL_TEST_POSTGRES:-}" ]; then
	export FILETRAIL_PG_STATE="$(mktemp -u "${TMPDIR:-/tmp}/filetrail-pg-test.XXXXXX")"
	if pg_env="$(scripts/pg-test-server.sh start)"; then
		export "$pg_env"
		trap 'scripts/pg-test-server.sh stop' EXIT
	elif [ "${CI:-}" = "true" ]; then
		echo "test.sh: could not start PostgreSQL, and CI must run the PostgreSQL tests" >&2
		exit 1
	else
		echo "test.sh: ************************************************************" >&2
		echo "test.sh: PostgreSQL could not be started: the PostgreSQL store tests" >&2
		echo "test.sh: WILL BE SKIPPED on this machine (they run in CI)." >&2
		echo "test.sh: ************************************************************" >&2
	fi
fi

go test "$@" ./...
if [ -n "${FILETRAIL_TEST_POSTGRES:-}" ]; then
	echo "test.sh: the HTTP API suite again, on the PostgreSQL store" >&2
	FILETRAIL_TEST_STORE=postgres go test "$@" ./vtapi/
fi
