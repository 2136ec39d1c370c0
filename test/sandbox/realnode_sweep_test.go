package sandbox

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestSweepRemovesWhatAKilledRunLeft: a record whose process is gone has its bridge,
// guard routes, folder and record removed by the next run's sweep; a live run's record
// is left alone.
func TestSweepRemovesWhatAKilledRunLeft(t *testing.T) {
	if err := RealNodeSupport(); err != nil {
		t.Skipf("real nodes cannot run here: %v", err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "xrn-")
	if err != nil {
		t.Fatal(err)
	}
	stale, err := newRealNet(1)
	if err != nil {
		t.Fatal(err)
	}
	if err := stale.record(gone.Process.Pid, dir); err != nil {
		t.Fatal(err)
	}
	live, err := newRealNet(1)
	if err != nil {
		t.Fatal(err)
	}
	liveDir := t.TempDir()
	if err := live.record(os.Getpid(), liveDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.remove(); live.forget() })

	sweepStaleRealNodes()

	if _, err := os.Stat("/sys/class/net/" + stale.bridge); !os.IsNotExist(err) {
		t.Errorf("the killed run's bridge %s is still there (%v)", stale.bridge, err)
	}
	routes, _ := exec.Command("ip", "route", "show", "table", "all").Output()
	for _, subnet := range []string{stale.podSubnet(), stale.serviceSubnet()} {
		if strings.Contains(string(routes), subnet) {
			t.Errorf("the killed run's route for %s is still there", subnet)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the killed run's folder %s is still there (%v)", dir, err)
	}
	if _, err := os.Stat(realNodesRecords + "/" + stale.bridge); !os.IsNotExist(err) {
		t.Errorf("the killed run's record is still there (%v)", err)
	}
	if _, err := os.Stat("/sys/class/net/" + live.bridge); err != nil {
		t.Errorf("the sweep removed a live run's bridge %s: %v", live.bridge, err)
	}
}
