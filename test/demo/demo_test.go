package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// TestMakeDemo runs the demo as `make demo` does (DEMO_KEEP=0), with freshly built
// binaries, in both latency modes, and checks it succeeded, said what it simulates, and
// left nothing running.
func TestMakeDemo(t *testing.T) {
	if _, err := sandbox.AssetsDir(); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", bin+"/", "../../cmd/...")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, "xr-demo"), ".").CombinedOutput(); err != nil {
		t.Fatalf("build xr-demo: %v\n%s", err, out)
	}
	// With gateways, the consumer's nodes are real where they can run; the stand-in run
	// keeps the fallback (kwok, xr-webhook as a process) tested.
	realNodes := sandbox.RealNodeSupport() == nil
	for _, tc := range []struct {
		mode string
		env  []string
		says []string
		real bool
	}{
		{"gateways", []string{"DEMO_STAND_IN=0"}, []string{"Latency mode: Liqo's own gateways"}, realNodes},
		{"stand-in", []string{"DEMO_STAND_IN=1", "DEMO_KWOK=1"}, []string{"Latency mode: STAND-IN",
			"Nodes: kwok everywhere, xr-webhook runs as a process (real nodes cannot run here: DEMO_KWOK=1 asked for it)",
			"xr-webhook (as a process)."}, false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			if tc.mode == "gateways" {
				if err := sandbox.GatewaySupport(); err != nil {
					t.Skipf("skipped: %v", err)
				}
			}
			dir := filepath.Join(t.TempDir(), "demo")
			cmd := exec.Command(filepath.Join(bin, "xr-demo"), "run", "--dir", dir, "--bin", bin)
			cmd.Env = append(append(os.Environ(), "DEMO_KEEP=0"), tc.env...)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			t.Logf("xr-demo run output:\n%s", out.String())
			if err != nil {
				// One line each, so that make test's filtered output shows why.
				for _, l := range lastLines(out.String(), 15) {
					t.Logf("demo| %s", l)
				}
				for _, l := range lastLines(tailFile(logPath(dir), 15), 15) {
					t.Logf("sandbox.log| %s", l)
				}
				t.Fatalf("the demo failed: %v", err)
			}
			if tc.real {
				tc.says = append(tc.says,
					"Nodes: REAL. The consumer's 2 nodes are kubelets with containerd and runc",
					"$ kubectl xr install --image ghcr.io/kubexr/xr-webhook:v0.0.0-demo",
					"xr-webhook is available",
					"render and client run as real containers on the consumer's real nodes",
					"running xr-webhook's Pods (kubectl xr install) and the local components render and client")
				if n := len(framesBack.FindAllString(out.String(), -1)); n < 2 {
					t.Errorf("the demo shows %d client reports of frames back from render, want 2 (one per render pod)", n)
				}
			}
			for _, want := range append(tc.says,
				"All 8 pods landed within their latency bound.",
				"Simulated here: the clusters are local control planes",
				"→ interactive",
				// The mover, not a restart, brought the pods back within their bound.
				"XRMoving   moving out of edge-athens",
				"Time to recover after edge-athens degraded:",
				"demo sandbox stopped",
			) {
				if !strings.Contains(out.String(), want) {
					t.Errorf("the demo's output lacks %q", want)
				}
			}
			if pid := runningPID(dir); pid != 0 {
				t.Errorf("sandbox process %d still running after DEMO_KEEP=0", pid)
			}
			if left := sandbox.ProcessesMentioning(dir); len(left) > 0 {
				t.Errorf("left running: %v", left)
			}
		})
	}
}

func lastLines(s string, n int) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[max(0, len(lines)-n):]
}
