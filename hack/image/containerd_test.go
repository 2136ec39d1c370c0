package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestTheImageRunsUnderContainerdAndRunc imports the OCI archive with ctr into a
// containerd of its own (its root, state and socket in a temporary folder) and runs
// the image with runc: the binary starts as user 65532 with nothing else in the image.
// It needs root and the Debian packages containerd and runc (apt-get install containerd
// runc); without them it says so and skips: issue 16's real kubelets bring them to make
// testbins.
func TestTheImageRunsUnderContainerdAndRunc(t *testing.T) {
	const namespace = "kubexr-image-test" // containerd's namespace, and runc's cgroup parent
	for _, bin := range []string{"containerd", "ctr", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed (apt-get install containerd runc): the image is not run here", bin)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("containerd needs root: the image is not run here")
	}
	o := options{version: "v0.0.0-ctr", revision: "0123abcd", source: "https://github.com/kubexr/kubectl-xr",
		repository: "ghcr.io/kubexr/xr-webhook", out: t.TempDir(), platforms: "linux/" + runtime.GOARCH, created: 1764000000, root: "../.."}
	if _, err := o.build(); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "xr-ctr-") // short: the socket path must fit in 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	config := fmt.Sprintf("version = 2\nroot = %q\nstate = %q\n[grpc]\n  address = %q\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  disable_tcp_service = true\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), filepath.Join(dir, "sock"))
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	daemon := exec.Command("containerd", "--config", filepath.Join(dir, "config.toml"), "--log-level", "warn")
	daemon.Stdout, daemon.Stderr = &log, &log
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = daemon.Process.Kill()
		_ = daemon.Wait()
		// runc removes each container's cgroup; the namespace's parent stays: remove
		// it, and check nothing of ours is left in any hierarchy.
		parents, _ := filepath.Glob("/sys/fs/cgroup/*/" + namespace)
		parents = append(parents, "/sys/fs/cgroup/"+namespace)
		for _, cg := range parents {
			if err := os.Remove(cg); err != nil && !os.IsNotExist(err) {
				t.Errorf("cgroup %s left behind: %v", cg, err)
			}
		}
	})
	ctr := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "ctr", append([]string{"--address", filepath.Join(dir, "sock"), "-n", namespace}, args...)...).CombinedOutput()
		return string(out), err
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if _, err := ctr("version"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd did not answer in 30s:\n%s", log.String())
		}
	}
	const ref = "ghcr.io/kubexr/xr-webhook:v0.0.0-ctr"
	if out, err := ctr("images", "import", "--snapshotter", "native", filepath.Join(o.out, "xr-webhook_v0.0.0-ctr.oci.tar")); err != nil ||
		!strings.Contains(out, "unpacking "+ref) {
		t.Fatalf("ctr images import: %v\n%s", err, out)
	}
	if out, err := ctr("run", "--rm", "--snapshotter", "native", ref, "xr-version", "/xr-webhook", "--version"); err != nil ||
		out != "xr-webhook v0.0.0-ctr\n" {
		t.Errorf("ctr run %s /xr-webhook --version: %v\n%q", ref, err, out)
	}
	if out, err := ctr("run", "--rm", "--snapshotter", "native", ref, "xr-peerer-version", "/xr-capi-peerer", "--version"); err != nil ||
		out != "xr-capi-peerer v0.0.0-ctr\n" {
		t.Errorf("ctr run %s /xr-capi-peerer --version: %v\n%q", ref, err, out)
	}
	if out, err := ctr("containers", "create", "--snapshotter", "native", ref, "xr-user"); err != nil {
		t.Fatalf("ctr containers create: %v\n%s", err, out)
	}
	info, err := ctr("containers", "info", "xr-user")
	if err != nil {
		t.Fatal(err)
	}
	var container struct {
		Spec struct {
			Process struct {
				User struct{ UID, GID int }
				Args []string
			}
		}
	}
	if err := json.Unmarshal([]byte(info), &container); err != nil {
		t.Fatal(err)
	}
	if p := container.Spec.Process; p.User.UID != 65532 || p.User.GID != 65532 || strings.Join(p.Args, " ") != "/xr-webhook" {
		t.Errorf("the container would run %v as %d:%d, want /xr-webhook as 65532:65532", p.Args, p.User.UID, p.User.GID)
	}
	for _, cleanup := range [][]string{{"containers", "rm", "xr-user"}, {"images", "rm", ref}} {
		if out, err := ctr(cleanup...); err != nil {
			t.Errorf("ctr %s: %v\n%s", strings.Join(cleanup, " "), err, out)
		}
	}
}
