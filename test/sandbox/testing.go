package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// NewForTest returns a sandbox under t.TempDir that stops on cleanup and prints the tail
// of every process log when the test failed. It fails the test when the binaries are
// missing: a skipped test would hide a broken setup.
func NewForTest(t testing.TB) *Sandbox {
	t.Helper()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			s.DumpLogs(t)
		}
		s.Stop()
	})
	return s
}

// StartClusterForTest starts a cluster or fails the test.
func (s *Sandbox) StartClusterForTest(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	c, err := s.StartCluster(context.Background(), opts)
	if err != nil {
		t.Fatalf("sandbox: start cluster %s: %v", opts.Name, err)
	}
	return c
}

// logWriter is what DumpLogs writes to (testing.TB's Logf).
type logWriter interface {
	Logf(format string, args ...any)
}

// DumpLogs writes the last lines of each process log of each cluster.
func (s *Sandbox) DumpLogs(w logWriter) {
	files, _ := filepath.Glob(filepath.Join(s.Dir, "*", "logs", "*.log"))
	for _, f := range files {
		rel, _ := filepath.Rel(s.Dir, f)
		w.Logf("==== %s (last 40 lines) ====\n%s", rel, tail(f, 40))
	}
}

// Eventually calls check every 100ms until it reports true, failing the test after
// timeout with check's last reason.
func Eventually(t testing.TB, what string, timeout time.Duration, check func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, why := check()
		if ok {
			return
		}
		last = why
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, last)
}

// NewForMain returns a sandbox under a fresh temporary folder for a package's TestMain,
// and the function that stops it and removes the folder (defer it).
func NewForMain(prefix string) (*Sandbox, func(), error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, nil, err
	}
	s, err := New(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return s, func() { s.Stop(); os.RemoveAll(dir) }, nil
}
