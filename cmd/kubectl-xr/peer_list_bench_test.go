package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"

	"github.com/kubexr/kubectl-xr/test/benchout"
	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// peerListFigures are BENCHMARKS.md §6's peer list row.
type peerListFigures struct {
	Machine         string  `json:"machine"`
	Peers           int     `json:"peers"`
	Rounds          int     `json:"rounds"`
	PeerListP50Ms   float64 `json:"peerListP50Ms"`
	PeerListMaxMs   float64 `json:"peerListMaxMs"`
	LiqoctlInfoP50  float64 `json:"liqoctlInfoP50Ms"`
	LiqoctlInfoMax  float64 `json:"liqoctlInfoMaxMs"`
	RatioP50        float64 `json:"ratioP50"`
	StartupMs       float64 `json:"versionMs"`
	PeerListLines   int     `json:"peerListLines"`
	LiqoctlInfoSize int     `json:"liqoctlInfoBytes"`
}

// TestPeerListAgainstLiqoctlInfo times `kubectl xr peer list` and Liqo's own `liqoctl info`
// (v1.2.0, built by make testbins), each as the process a user runs, alternately, against
// one harness cluster running Liqo's real control plane with N peers. The peers are Liqo
// STAND-INS (test/sandbox/liqostandin.go: a ForeignCluster, a Connection and a virtual node
// each, no peering: 100 real peerings do not fit on this machine). Without KUBEXR_BENCH it
// is the smoke run of make test (10 peers, 3 rounds): both commands succeed and peer list
// shows every peer; no time is asserted. make bench: 100 peers, 20 rounds.
func TestPeerListAgainstLiqoctlInfo(t *testing.T) {
	peers, rounds := 10, 3
	if os.Getenv("KUBEXR_BENCH") != "" {
		peers, rounds = 100, 20
	}
	ctx := context.Background()
	sb := sandbox.NewForTest(t)
	c := sb.StartClusterForTest(t, sandbox.ClusterOptions{Name: "consumer", Liqo: true})
	binary := filepath.Join(t.TempDir(), "kubectl-xr")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for i := range peers {
		id := fmt.Sprintf("peer-%03d", i)
		if err := c.StandInForeignCluster(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := c.StandInConnection(ctx, id, networkingv1beta1.Connected, time.Duration(3+i%60)*time.Millisecond, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := c.StandInVirtualNode(ctx, id, id); err != nil {
			t.Fatal(err)
		}
	}

	// One HOME for every run, as a user has: kubectl's discovery cache (~/.kube/cache) is
	// warm after the first round, which is not counted.
	home := t.TempDir()
	run := func(name string, args ...string) (time.Duration, string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, append(args, "--kubeconfig", c.KubeconfigPath)...)
		cmd.Env = append(os.Environ(), "KUBECONFIG=", "HOME="+home) // never the user's config
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		took := time.Since(start)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out.String())
		}
		return took, out.String()
	}
	var ours, liqos []time.Duration
	fig := peerListFigures{Machine: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()), Peers: peers, Rounds: rounds}
	run(binary, "peer", "list")
	run(c.LiqoctlBinary(), "info")
	startup, _ := run(binary, "version") // the process alone: start, flags, exit
	fig.StartupMs = benchout.Millis(startup)
	for range rounds {
		took, out := run(binary, "peer", "list")
		ours = append(ours, took)
		fig.PeerListLines = strings.Count(out, "\n")
		took, out = run(c.LiqoctlBinary(), "info")
		liqos = append(liqos, took)
		fig.LiqoctlInfoSize = len(out)
		if !strings.Contains(out, "peer-000") {
			t.Errorf("liqoctl info does not show the peers:\n%s", out)
		}
	}
	if fig.PeerListLines != peers+1 {
		t.Errorf("peer list printed %d lines, want a header and %d peers", fig.PeerListLines, peers)
	}
	slices.Sort(ours)
	slices.Sort(liqos)
	fig.PeerListP50Ms, fig.PeerListMaxMs = benchout.Millis(ours[(rounds-1)/2]), benchout.Millis(ours[rounds-1])
	fig.LiqoctlInfoP50, fig.LiqoctlInfoMax = benchout.Millis(liqos[(rounds-1)/2]), benchout.Millis(liqos[rounds-1])
	fig.RatioP50 = fig.PeerListP50Ms / fig.LiqoctlInfoP50
	table := fmt.Sprintf("| peers | rounds | peer list p50 ms | peer list max ms | liqoctl info p50 ms | liqoctl info max ms | ratio p50 | kubectl xr version ms |\n"+
		"|---|---|---|---|---|---|---|---|\n| %d | %d | %.1f | %.1f | %.1f | %.1f | %.2f | %.1f |\n",
		peers, rounds, fig.PeerListP50Ms, fig.PeerListMaxMs, fig.LiqoctlInfoP50, fig.LiqoctlInfoMax, fig.RatioP50, fig.StartupMs)
	t.Logf("%s:\n%s", fig.Machine, table)
	benchout.Write(t, fig, table)
}
