package plugin_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/plugin"
	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// Three clusters per package, each running the real Liqo control plane: a consumer
// (kube-scheduler, the deployment, replicaset, statefulset, daemonset and job controllers, kwok for its local nodes,
// the LatencyClass CRD and default classes) and two providers with kwok nodes.
// cloud-geneva is peered in TestMain by `kubectl xr peer add --remote-kubeconfig`;
// edge-athens is peered by the peer test, as a Cluster API cluster.
var env struct {
	sb             *sandbox.Sandbox
	c              *sandbox.Cluster
	athens, geneva *sandbox.Cluster
	// genevaPeerOutput is what `kubectl xr peer add --remote-kubeconfig` printed in TestMain.
	genevaPeerOutput string
}

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	sb, cleanup, err := sandbox.NewForMain("kubectl-xr-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	defer cleanup()
	env.sb = sb
	ctx := context.Background()
	start := time.Now()
	clusters, err := sb.StartClusters(ctx,
		sandbox.ClusterOptions{Name: "consumer", Liqo: true, Kwok: true, Controllers: []string{"deployment", "replicaset", "statefulset", "daemonset", "job"}},
		sandbox.ClusterOptions{Name: "edge-athens", Liqo: true, Kwok: true},
		sandbox.ClusterOptions{Name: "cloud-geneva", Liqo: true, Kwok: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		sb.DumpLogs(stderrLogger{})
		return 1
	}
	env.c, env.athens, env.geneva = clusters[0], clusters[1], clusters[2]
	for _, c := range []*sandbox.Cluster{env.c, env.athens, env.geneva} {
		if _, err := c.AddNode(ctx, c.Name+"-node", nil); err != nil {
			fmt.Fprintln(os.Stderr, "sandbox:", err)
			return 1
		}
	}
	// cloud-geneva is peered by the plugin itself, from its kubeconfig file; the peer test
	// checks what it printed.
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	if err := plugin.Execute(streams, []string{"--kubeconfig", env.c.KubeconfigPath, "peer", "add",
		"--remote-kubeconfig", env.geneva.KubeconfigPath, "--networking-disabled"}); err != nil {
		fmt.Fprintln(os.Stderr, "kubectl xr peer add:", err, errOut.String())
		sb.DumpLogs(stderrLogger{})
		return 1
	}
	env.genevaPeerOutput = out.String() + errOut.String()
	if _, err := env.c.WaitNodeReady(ctx, env.geneva.Name); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	fmt.Printf("sandbox: three clusters with Liqo, cloud-geneva peered by kubectl xr, in %s\n", time.Since(start).Round(time.Millisecond))
	for _, dir := range []string{"crd", "classes"} {
		objs, err := sb.Kustomize(manifestsDir(dir))
		if err == nil {
			err = env.c.Apply(ctx, objs...)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "manifests:", err)
			return 1
		}
	}
	return m.Run()
}

type stderrLogger struct{}

func (stderrLogger) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func manifestsDir(dir string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "manifests", dir)
}

// kubectlXR runs `kubectl xr args...` in-process against the sandbox cluster and returns
// stdout, stderr and the error.
func kubectlXR(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	err := plugin.Execute(streams, append([]string{"--kubeconfig", env.c.KubeconfigPath}, args...))
	return out.String(), errOut.String(), err
}

// mustXR runs kubectl xr and fails the test on error.
func mustXR(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := kubectlXR(t, args...)
	if err != nil {
		t.Fatalf("kubectl xr %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// oneLineError asserts the command failed with exactly one "error: ..." line containing want.
func oneLineError(t *testing.T, want string, args ...string) {
	t.Helper()
	out, errOut, err := kubectlXR(t, args...)
	lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
	if err == nil || len(lines) != 1 || !strings.HasPrefix(lines[0], "error: ") || !strings.Contains(lines[0], want) {
		t.Errorf("kubectl xr %s: err=%v stdout=%q stderr=%q; want one error line containing %q",
			strings.Join(args, " "), err, out, errOut, want)
	}
}

// waitGone waits up to a minute for obj to be deleted (a namespace's deletion finishes
// only once the namespace controller emptied it).
func waitGone(t *testing.T, obj client.Object) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		err := env.c.Client.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%T %s still there after a minute (%v)", obj, obj.GetName(), err)
		}
	}
}
