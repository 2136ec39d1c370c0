package main

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/sandbox"
)

//go:embed xr-app.yaml
var xrApp []byte

const demoNamespace = "xr-demo"

// scenario plays the demo against a running sandbox, as a user would: every change goes
// through kubectl or kubectl xr; the only other channel is the sandbox's control socket,
// which plays the network (link up, delay changed).
type scenario struct {
	dir, bin string
	out      io.Writer
	started  bool // this run started the sandbox process (so DEMO_KEEP=0 may stop it)
	start    time.Time
	st       *state
	env      []string
	kube     client.Client
	control  *http.Client
	// recovery is the time from the injected degradation to every pod within its bound.
	recovery time.Duration
}

func runScenario(ctx context.Context, dir, bin string, keep bool) int {
	s := &scenario{dir: dir, bin: bin, out: os.Stdout, start: time.Now()}
	err := s.play(ctx)
	if err == nil {
		err = s.finalSummary(ctx)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "\nmake demo: %v\n", err)
		fmt.Fprintf(os.Stderr, "logs: %s and %s\n", logPath(dir), filepath.Join(dir, "clusters", "*", "logs"))
	}
	if !keep && s.started {
		s.say("DEMO_KEEP=0: stopping the sandbox")
		if derr := down(dir); derr != nil {
			fmt.Fprintln(os.Stderr, "make demo:", derr)
			return 1
		}
	} else if s.started && s.st == nil && runningPID(dir) != 0 {
		fmt.Fprintf(s.out, "\nThe sandbox process is still running (it was not ready yet): stop it with make demo-down\n")
	} else if s.st != nil {
		fmt.Fprintf(s.out, "\nThe sandbox keeps running. Reach it with:\n  export KUBECONFIG=%s\n  export PATH=%s:$PATH   # kubectl and kubectl-xr of this build\n  kubectl xr peer list\nStop it with: make demo-down\n",
			s.st.Kubeconfig, strings.Join(s.pathDirs(), ":"))
	}
	if err != nil {
		return 1
	}
	return 0
}

func (s *scenario) say(format string, args ...any) {
	fmt.Fprintf(s.out, "[%5.1fs] "+format+"\n", append([]any{time.Since(s.start).Seconds()}, args...)...)
}

func (s *scenario) act(n int, title string) {
	fmt.Fprintf(s.out, "\n=== %d/6 %s\n", n, title)
}

func (s *scenario) play(ctx context.Context) error {
	s.act(1, "A consumer and three provider clusters with Liqo's real control plane")
	if err := s.startSandbox(ctx); err != nil {
		return err
	}
	if s.st.Nodes == "real" {
		start := time.Now()
		if _, err := s.kubectl(ctx, "xr", "install", "--image", s.st.WebhookImage); err != nil {
			return err
		}
		s.say("xr-webhook runs as 2 Pods on the real nodes, from the image built for this demo (install took %s)", time.Since(start).Round(100*time.Millisecond))
	}

	s.act(2, "Peering with kubectl xr peer add; Liqo measures each link")
	if err := s.peer(ctx); err != nil {
		return err
	}

	s.act(3, "kubectl xr offload, then the XR application")
	if err := s.deploy(ctx); err != nil {
		return err
	}

	s.act(4, "Where each component landed")
	if err := s.show(ctx, "deploy/render"); err != nil {
		return err
	}
	if err := s.showRoundTrips(ctx); err != nil {
		return err
	}

	s.act(5, fmt.Sprintf("%s's link degrades to %v", degradedPeer, degradedRTT))
	return s.degrade(ctx)
}

func (s *scenario) startSandbox(ctx context.Context) error {
	if pid := runningPID(s.dir); pid != 0 {
		return fmt.Errorf("a demo sandbox is already running (process %d): stop it with `make demo-down` first", pid)
	}
	if err := clearDemoDir(s.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	log, err := os.Create(logPath(s.dir))
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(self, "sandbox", "--dir", s.dir, "--bin", s.bin)
	cmd.Stdout, cmd.Stderr = log, log
	// Its own session: the sandbox outlives this command (make demo-down stops it).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the sandbox process: %w", err)
	}
	s.started = true
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	s.say("sandbox process %d starting 4 clusters (etcd, kube-apiserver, kube-scheduler, kube-controller-manager, Liqo v1.2.0, kubelets or kwok); log: %s", cmd.Process.Pid, logPath(s.dir))
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		if st, err := readState(s.dir); err == nil {
			s.st = st
			break
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the sandbox process ended (%v) before it was ready:\n%s", err, tailFile(logPath(s.dir), 15))
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			s.say("... still starting")
		case <-time.After(200 * time.Millisecond):
		}
	}
	if s.st.Mode == "gateways" {
		s.say("ready. Latency mode: Liqo's own gateways (userspace WireGuard in network namespaces) measure each link over an injected delay")
	} else {
		s.say("ready. Latency mode: STAND-IN. %s", s.st.Why)
		s.say("The sandbox writes each Connection's latency as Liqo's gateway would; peering, virtual nodes, offloading and scheduling stay real.")
	}
	if s.st.Nodes == "real" {
		s.say("Nodes: REAL. The consumer's 2 nodes are kubelets with containerd and runc; the providers' nodes are kwok (no containers there)")
	} else {
		s.say("Nodes: kwok everywhere, xr-webhook runs as a process (real nodes cannot run here: %s)", s.st.NodesWhy)
	}
	return s.connectClients()
}

// pathDirs puts this build's kubectl-xr and the test kubectl first on PATH, so `kubectl xr`
// goes through kubectl's own plugin discovery.
func (s *scenario) pathDirs() []string {
	dirs := []string{s.bin}
	if assets, err := sandbox.AssetsDir(); err == nil {
		dirs = append(dirs, assets)
	}
	return dirs
}

func (s *scenario) connectClients() error {
	s.env = append(os.Environ(), "KUBECONFIG="+s.st.Kubeconfig,
		"PATH="+strings.Join(append(s.pathDirs(), os.Getenv("PATH")), ":"))
	cfg, err := clientcmd.BuildConfigFromFlags("", s.st.Kubeconfig)
	if err != nil {
		return err
	}
	if s.kube, err = client.New(cfg, client.Options{Scheme: sandbox.NewScheme()}); err != nil {
		return err
	}
	sock := socketPath(s.dir)
	s.control = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	return nil
}

// kubectl runs kubectl (and through it kubectl-xr) as a user would, echoing both.
func (s *scenario) kubectl(ctx context.Context, args ...string) (string, error) {
	fmt.Fprintf(s.out, "$ kubectl %s\n", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	fmt.Fprint(s.out, indent(string(out)))
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}

// quietKubectl runs kubectl without echoing it: for polling.
func (s *scenario) quietKubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// network asks the sandbox to change the network: connect a link or set its delay.
func (s *scenario) network(ctx context.Context, action, peer string, rtt time.Duration) error {
	q := url.Values{"peer": {peer}, "rtt": {rtt.String()}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://sandbox/"+action+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := s.control.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox control: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("sandbox %s %s: %s", action, peer, strings.TrimSpace(string(body)))
	}
	return nil
}

// connection returns the consumer's Connection status to peer: value and latency.
func (s *scenario) connection(ctx context.Context, peer string) (string, string) {
	conn := &networkingv1beta1.Connection{}
	key := client.ObjectKey{Namespace: sandbox.TenantNamespace(peer), Name: sandbox.ConnectionName(peer)}
	if err := s.kube.Get(ctx, key, conn); err != nil {
		return "absent", ""
	}
	return string(conn.Status.Value), conn.Status.Latency.Value
}

// nodeClass returns the class and RTT the observer wrote on peer's virtual node.
func (s *scenario) nodeClass(ctx context.Context, peer string) (string, string) {
	n := &corev1.Node{}
	if err := s.kube.Get(ctx, client.ObjectKey{Name: peer}, n); err != nil {
		return "", ""
	}
	return n.Labels[policy.LabelLatencyClass], n.Annotations[policy.AnnotationRTT]
}

// waitFor polls check every 500 ms until it returns true, up to timeout.
func waitFor(ctx context.Context, what string, timeout time.Duration, check func() (bool, string)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, last := check()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s (last: %s)", timeout, what, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// indent shifts a command's output right; of a line a spinner redrew with carriage
// returns it keeps what a terminal would show, the text after the last one.
func indent(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if j := strings.LastIndex(l, "\r"); j >= 0 {
			l = l[j+1:]
		}
		lines[i] = "    " + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// clearDemoDir empties dir for a new sandbox, but only if it is absent, empty or an
// earlier demo's folder: --dir must never wipe anything else.
func clearDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) || (err == nil && len(entries) == 0) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := os.Stat(logPath(dir)); err != nil {
		return fmt.Errorf("refusing to clear %s: it is not a demo folder (no sandbox.log); choose an empty or new --dir", dir)
	}
	return os.RemoveAll(dir)
}

func tailFile(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
