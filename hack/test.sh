#!/usr/bin/env bash
# Runs every test package: with -race those that start no control plane, without it those
# that do (they import test/sandbox or envtest). Prints each test's result line and a
# closing "N passed, N failed, N skipped" line; exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source hack/testbins-env.sh

log=$(mktemp -t kubexr-test-XXXXXX.log)
trap 'rm -f "$log"' EXIT

unit=() integration=()
while read -r pkg imports; do
	if [[ " $imports " == *" github.com/kubexr/kubectl-xr/test/sandbox "* || " $imports " == *" sigs.k8s.io/controller-runtime/pkg/envtest "* ]]; then
		integration+=("$pkg")
	else
		unit+=("$pkg")
	fi
done < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{join .TestImports " "}} {{join .XTestImports " "}}{{end}}' ./... | sed '/^$/d')

status=0
if ((${#unit[@]})); then
	echo "== unit tests (-race): ${unit[*]}"
	set +e
	go test -race -count=1 -v "$@" "${unit[@]}" 2>&1 | tee -a "$log" | grep -E '^(ok|FAIL|---|panic|\s+--- FAIL)'
	rc=${PIPESTATUS[0]}
	set -e
	((rc == 0)) || status=1
fi
if ((${#integration[@]})); then
	echo "== integration tests on real control planes: ${integration[*]}"
	set +e
	go test -count=1 -timeout 40m -p 1 -v "$@" "${integration[@]}" 2>&1 | tee -a "$log" | grep -E '^(ok|FAIL|---|panic|sandbox:|\s+--- FAIL|\s+\S+_test.go:[0-9]+)'
	rc=${PIPESTATUS[0]}
	set -e
	((rc == 0)) || status=1
fi

passed=$(grep -cE '^\s*--- PASS' "$log" || true)
failed=$(grep -cE '^\s*--- FAIL' "$log" || true)
skipped=$(grep -cE '^\s*--- SKIP' "$log" || true)
if ((status != 0)) && ((failed == 0)); then
	echo "go test failed outside a test (build error, panic or TestMain); last lines:"
	tail -40 "$log"
fi
if ((status != 0)); then
	keep="${TMPDIR:-/tmp}/kubexr-test-last.log"
	cp "$log" "$keep" && echo "full go test output: $keep"
fi
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
