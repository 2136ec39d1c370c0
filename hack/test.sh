#!/usr/bin/env bash
# Runs every test package: unit packages (no control plane) with -race in parallel, then
# integration packages (they import test/sandbox or envtest) one at a time, with -race
# too, except those that run Liqo's liqoctl code in-process: its pterm spinners race by
# design (pterm v0.12.79's SpinnerPrinter reads IsActive from its goroutine unlocked), so
# -race would report pterm, not us. Prints each test's result line and a closing
# "N passed, N failed, N skipped" line; exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/.."
source hack/testbins-env.sh

log=$(mktemp -t kubexr-test-XXXXXX.log)
trap 'rm -f "$log"' EXIT

unit=() integration=() integration_norace=()
while read -r pkg imports; do
	if [[ " $imports " == *" github.com/kubexr/kubectl-xr/test/sandbox "* || " $imports " == *" sigs.k8s.io/controller-runtime/pkg/envtest "* ]]; then
		case "$pkg" in
		*/plugin | */test/demo | */test/liqo | */test/realnodes | */krew) integration_norace+=("$pkg") ;;
		*) integration+=("$pkg") ;;
		esac
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
run_integration() {
	local label=$1
	shift
	echo "== integration tests on real control planes ($label): ${pkgs[*]}"
	set +e
	go test -count=1 -timeout 40m -p 1 -v "$@" "${pkgs[@]}" 2>&1 | tee -a "$log" | grep -E '^(ok|FAIL|---|panic|sandbox:|WARNING: DATA RACE|\s+--- FAIL|\s+\S+_test.go:[0-9]+)'
	rc=${PIPESTATUS[0]}
	set -e
	((rc == 0)) || status=1
}
if ((${#integration[@]})); then
	pkgs=("${integration[@]}")
	run_integration "-race" -race "$@"
fi
if ((${#integration_norace[@]})); then
	pkgs=("${integration_norace[@]}")
	run_integration "no -race: Liqo's CLI code in-process" "$@"
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
