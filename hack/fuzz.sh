#!/usr/bin/env bash
# Runs every fuzzer for FUZZTIME each (default 60s), one after the other, and prints each
# one's exec count. A failing input is written by go test under the package's
# testdata/fuzz/<Fuzzer>/ — commit it: from then on it runs as a regression test in
# make test. The webhook package's fuzzer starts that package's test cluster first
# (its TestMain), so the test binaries are needed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source hack/testbins-env.sh
fuzztime=${FUZZTIME:-60s}
status=0
while read -r pkg dir; do
	# Found in the source, not with go test -list, which would start each package's
	# test clusters just to list.
	for fuzzer in $(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' "$dir"/*_test.go 2>/dev/null); do
		log=$(mktemp -t kubexr-fuzz-XXXXXX.log)
		echo "== $pkg $fuzzer ($fuzztime)"
		if go test -run '^$' -fuzz "^${fuzzer}\$" -fuzztime "$fuzztime" -fuzzminimizetime 30s "$pkg" >"$log" 2>&1; then
			execs=$(grep -oE 'execs: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
			echo "   ok: ${execs:-?} execs"
		else
			status=1
			grep -vE '^fuzz: elapsed' "$log" | tail -30
			echo "   FAILED: the failing input is under $(go list -f '{{.Dir}}' "$pkg")/testdata/fuzz/$fuzzer/"
		fi
		rm -f "$log"
	done
done < <(go list -f '{{.ImportPath}} {{.Dir}}' ./...)
exit $status
