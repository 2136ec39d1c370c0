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

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/plugin"
	"github.com/kubexr/kubectl-xr/test/capilocal"
	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// Three clusters per package, each running the real Liqo control plane: a consumer
// (kube-scheduler, the deployment, replicaset, statefulset, daemonset and job controllers, kwok for its local nodes,
// the LatencyClass CRD and default classes), which is also the Cluster API management
// cluster (Cluster API's real core manager and the test bed's provider, test/capilocal),
// and two providers with kwok nodes, provisioned there as the Cluster API Clusters
// fleet/edge-athens and fleet/cloud-geneva (labelled tier=edge); fleet/edge-pending refers
// to infrastructure that never comes, so Cluster API keeps it Provisioning.
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
	fail := func(what string, err error) int {
		fmt.Fprintln(os.Stderr, what+":", err)
		sb.DumpLogs(stderrLogger{})
		return 1
	}
	env.c, err = sb.StartCluster(ctx, sandbox.ClusterOptions{Name: "consumer", Liqo: true, Kwok: true, ClusterAPI: true,
		Controllers: []string{"deployment", "replicaset", "statefulset", "daemonset", "job"}})
	if err != nil {
		return fail("sandbox", err)
	}
	provider, err := capilocal.Start(ctx, sb, env.c)
	if err != nil {
		return fail("Cluster API provider", err)
	}
	defer provider.Stop() // before cleanup stops the clusters
	if env.athens, env.geneva, err = provisionProviders(ctx, provider); err != nil {
		return fail("Cluster API", err)
	}
	for _, c := range []*sandbox.Cluster{env.c, env.athens, env.geneva} {
		if _, err := c.AddNode(ctx, c.Name+"-node", nil); err != nil {
			return fail("sandbox", err)
		}
	}
	// cloud-geneva is peered by the plugin itself, from its kubeconfig file; the peer test
	// checks what it printed.
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	if err := plugin.Execute(streams, []string{"--kubeconfig", env.c.KubeconfigPath, "peer", "add",
		"--remote-kubeconfig", env.geneva.KubeconfigPath, "--networking-disabled"}); err != nil {
		return fail("kubectl xr peer add", fmt.Errorf("%w %s", err, errOut.String()))
	}
	env.genevaPeerOutput = out.String() + errOut.String()
	if _, err := env.c.WaitNodeReady(ctx, env.geneva.Name); err != nil {
		return fail("sandbox", err)
	}
	fmt.Printf("sandbox: three clusters with Liqo (two provisioned by Cluster API), cloud-geneva peered by kubectl xr, in %s\n", time.Since(start).Round(time.Millisecond))
	for _, dir := range []string{"crd", "classes"} {
		objs, err := sb.Kustomize(manifestsDir(dir))
		if err == nil {
			err = env.c.Apply(ctx, objs...)
		}
		if err != nil {
			return fail("manifests", err)
		}
	}
	return m.Run()
}

// provisionProviders has Cluster API provision edge-athens and cloud-geneva in namespace
// fleet, and creates edge-pending, whose LocalCluster never exists.
func provisionProviders(ctx context.Context, provider *capilocal.Provider) (athens, geneva *sandbox.Cluster, err error) {
	if err := env.c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fleet"}}); err != nil {
		return nil, nil, err
	}
	edge := map[string]string{"tier": "edge"}
	objs := append(capilocal.ClusterObjects("fleet", "edge-athens", edge, capilocal.ControlPlane{Liqo: true, Kwok: true}),
		capilocal.ClusterObjects("fleet", "cloud-geneva", edge, capilocal.ControlPlane{Liqo: true, Kwok: true})...)
	objs = append(objs, capilocal.Cluster("fleet", "edge-pending", edge))
	for _, obj := range objs {
		if err := env.c.Client.Create(ctx, obj); err != nil {
			return nil, nil, fmt.Errorf("create %s: %w", obj.GetName(), err)
		}
	}
	for _, name := range []string{"edge-athens", "cloud-geneva"} {
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
			c := &clusterv1.Cluster{}
			if err := env.c.Client.Get(ctx, client.ObjectKey{Namespace: "fleet", Name: name}, c); err != nil {
				return false, err
			}
			return c.Status.Phase == string(clusterv1.ClusterPhaseProvisioned) &&
				meta.IsStatusConditionTrue(c.Status.Conditions, clusterv1.ClusterControlPlaneAvailableCondition), nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("Cluster fleet/%s not Provisioned with its control plane available: %w", name, err)
		}
	}
	return provider.Running("fleet", "edge-athens"), provider.Running("fleet", "cloud-geneva"), nil
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
