package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// The demo's topology: what the seed study measured between Frankfurt and Geneva, plus an
// edge site close to the users.
type provider struct {
	Name string
	RTT  time.Duration
}

// frankfurt's 12 ms leaves room under the 18 ms a cluster must fall below to enter "low"
// (20 ms less the 10 % hysteresis): Liqo's gateways report 1–4 ms above the injected delay
// on this machine, and at 14 ms a demo run stayed "interactive" at a smoothed 19.1 ms.
var providers = []provider{
	{"edge-athens", 4 * time.Millisecond},
	{"edge-frankfurt", 12 * time.Millisecond},
	{"cloud-geneva", 38 * time.Millisecond},
}

const (
	consumerName = "consumer"
	// degradedPeer's link goes to degradedRTT in the second act.
	degradedPeer = "edge-athens"
	degradedRTT  = 25 * time.Millisecond
	// statusInterval is the gateways' --ping-update-status-interval in the demo (Liqo's
	// default is 10 s; the chart sets it with networking.gateway.ping.updateStatusInterval),
	// so smoothing visibly converges within the demo's minutes.
	statusInterval = 2 * time.Second
)

// state is what the sandbox process publishes in <dir>/state.json once it is ready.
type state struct {
	PID int `json:"pid"`
	// Mode is "gateways" (Liqo's gateways measure over the relay) or "stand-in" (the
	// sandbox writes the Connections' latency as Liqo's gateway would).
	Mode string `json:"mode"`
	Why  string `json:"why,omitempty"`
	// Nodes is "real" (the consumer's nodes are kubelets with containerd and runc, and
	// xr-webhook is to be installed on them as Pods from WebhookImage) or "kwok"
	// (NodesWhy says why; xr-webhook already runs as a process).
	Nodes        string            `json:"nodes"`
	NodesWhy     string            `json:"nodesWhy,omitempty"`
	WebhookImage string            `json:"webhookImage,omitempty"`
	Kubeconfig   string            `json:"kubeconfig"`
	Kubeconfigs  map[string]string `json:"kubeconfigs"`
}

func statePath(dir string) string  { return filepath.Join(dir, "state.json") }
func socketPath(dir string) string { return filepath.Join(dir, "control.sock") }
func logPath(dir string) string    { return filepath.Join(dir, "sandbox.log") }
func pidPath(dir string) string    { return filepath.Join(dir, "sandbox.pid") }

func readState(dir string) (*state, error) {
	data, err := os.ReadFile(statePath(dir))
	if err != nil {
		return nil, err
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", statePath(dir), err)
	}
	return &s, nil
}

func writeState(dir string, s *state) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := statePath(dir) + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, statePath(dir))
}

// runningPID is the pid of a live sandbox process of dir, or 0.
func runningPID(dir string) int {
	data, err := os.ReadFile(pidPath(dir))
	if err != nil {
		return 0
	}
	var pid int
	if _, err := fmt.Sscan(string(data), &pid); err != nil || pid <= 0 {
		return 0
	}
	if !sandbox.ProcessAlive(pid) {
		return 0
	}
	// A stale pid file may name a recycled pid: only a sandbox process counts.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err == nil && !strings.Contains(string(cmdline), "sandbox") {
		return 0
	}
	return pid
}

// down stops the sandbox process of dir (it removes its clusters, gateways and
// namespaces on the way out) and waits until it is gone.
func down(dir string) error {
	pid := runningPID(dir)
	if pid == 0 {
		fmt.Printf("no demo sandbox is running in %s\n", dir)
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop sandbox process %d: %w", pid, err)
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if runningPID(dir) == 0 {
			fmt.Printf("demo sandbox stopped (process %d); its folder %s is kept for its logs\n", pid, dir)
			return nil
		}
	}
	return fmt.Errorf("sandbox process %d still running after 2 minutes; see %s", pid, logPath(dir))
}
