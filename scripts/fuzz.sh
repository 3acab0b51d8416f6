#!/usr/bin/env bash
# fuzz.sh: runs every fuzz target for a while (default 10s each; the first
# argument sets another go test -fuzztime, e.g. `scripts/fuzz.sh 10m` on
# demand). `go test ./...` already runs each target's seed corpus; this
# explores beyond it. New failing inputs land in the package's
# testdata/fuzz/ folder, to be committed with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-10s}"
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
	pkg="./$(dirname "${file#./}")"
	for target in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		echo "fuzz.sh: $pkg $target for $fuzztime"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
	done
done
