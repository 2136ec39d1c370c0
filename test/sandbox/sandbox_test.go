package sandbox_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	liqoconsts "github.com/liqotech/liqo/pkg/consts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// One sandbox per package: a consumer with scheduler and kwok, and a bare provider.
var env struct {
	sb                 *sandbox.Sandbox
	consumer, provider *sandbox.Cluster
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	sb, cleanup, err := sandbox.NewForMain("sandbox-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	defer cleanup()
	ctx := context.Background()
	start := time.Now()
	env.consumer, err = sb.StartCluster(ctx, sandbox.ClusterOptions{Name: "consumer", Scheduler: true, Kwok: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	fmt.Printf("sandbox: cluster consumer (etcd, kube-apiserver, CRDs, kube-scheduler, kwok) started in %s\n",
		time.Since(start).Round(time.Millisecond))
	start = time.Now()
	env.provider, err = sb.StartCluster(ctx, sandbox.ClusterOptions{Name: "provider"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return 1
	}
	fmt.Printf("sandbox: cluster provider (etcd, kube-apiserver, CRDs) started in %s\n",
		time.Since(start).Round(time.Millisecond))
	env.sb = sb
	code := m.Run()
	if code != 0 {
		sb.DumpLogs(stderrLogger{})
	}
	return code
}

type stderrLogger struct{}

func (stderrLogger) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

func TestTwoClustersAreSeparate(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-consumer"}}
	if err := env.consumer.Client.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace in consumer: %v", err)
	}
	if err := env.provider.Client.Get(ctx, client.ObjectKeyFromObject(ns), &corev1.Namespace{}); err == nil {
		t.Fatalf("namespace created in consumer is visible in provider: clusters share state")
	}
	if env.consumer.Server == env.provider.Server {
		t.Fatalf("both clusters serve at %s", env.consumer.Server)
	}
	for _, c := range []*sandbox.Cluster{env.consumer, env.provider} {
		v, err := c.Clientset.Discovery().ServerVersion()
		if err != nil {
			t.Fatalf("%s: server version: %v", c.Name, err)
		}
		if v.GitVersion != "v1.37.2" {
			t.Errorf("%s: kube-apiserver reports %q, want v1.37.2 (built by make testbins)", c.Name, v.GitVersion)
		}
		var crds offloadingv1beta1.NamespaceOffloadingList
		if err := c.Client.List(ctx, &crds); err != nil {
			t.Errorf("%s: Liqo CRDs not served: %v", c.Name, err)
		}
	}
}

func TestStandInVirtualNodeAndConnectionReadBackThroughLiqoTypes(t *testing.T) {
	ctx := context.Background()
	const clusterID = "edge-athens"
	if _, err := env.consumer.StandInVirtualNode(ctx, clusterID, clusterID); err != nil {
		t.Fatal(err)
	}
	var node corev1.Node
	if err := env.consumer.Client.Get(ctx, client.ObjectKey{Name: clusterID}, &node); err != nil {
		t.Fatal(err)
	}
	if node.Labels[liqoconsts.TypeLabel] != "virtual-node" || node.Labels[liqoconsts.RemoteClusterID] != clusterID {
		t.Errorf("virtual node labels = %v, want liqo.io/type=virtual-node and liqo.io/remote-cluster-id=%s",
			node.Labels, clusterID)
	}
	wantTaint := corev1.Taint{Key: "virtual-node.liqo.io/not-allowed", Value: "true", Effect: corev1.TaintEffectNoExecute}
	if len(node.Spec.Taints) != 1 || !node.Spec.Taints[0].MatchTaint(&wantTaint) || node.Spec.Taints[0].Value != "true" {
		t.Errorf("virtual node taints = %v, want exactly %v", node.Spec.Taints, wantTaint)
	}
	var vn offloadingv1beta1.VirtualNode
	if err := env.consumer.Client.Get(ctx, client.ObjectKey{Namespace: sandbox.TenantNamespace(clusterID), Name: clusterID}, &vn); err != nil {
		t.Fatalf("VirtualNode through Liqo's types: %v", err)
	}
	if string(vn.Spec.ClusterID) != clusterID {
		t.Errorf("VirtualNode clusterID = %q, want %q", vn.Spec.ClusterID, clusterID)
	}

	// The gateway's formats: milliseconds, microseconds with a Greek mu, and N/A.
	cases := []struct {
		value   networkingv1beta1.ConnectionStatusValue
		latency time.Duration
		want    string
	}{
		{networkingv1beta1.Connected, 12 * time.Millisecond, "12ms"},
		{networkingv1beta1.Connected, 850 * time.Microsecond, "850μs"},
		{networkingv1beta1.ConnectionError, 0, "N/A"},
	}
	for _, tc := range cases {
		now := time.Now().Truncate(time.Second)
		if err := env.consumer.StandInConnection(ctx, clusterID, tc.value, tc.latency, now); err != nil {
			t.Fatal(err)
		}
		var conns networkingv1beta1.ConnectionList
		if err := env.consumer.Client.List(ctx, &conns, client.MatchingLabels{liqoconsts.RemoteClusterID: clusterID}); err != nil {
			t.Fatalf("list Connections by label: %v", err)
		}
		if len(conns.Items) != 1 {
			t.Fatalf("found %d Connections for %s, want 1", len(conns.Items), clusterID)
		}
		got := conns.Items[0].Status
		wantAt := now
		if tc.value == networkingv1beta1.ConnectionError {
			wantAt = time.Time{} // as Liqo's disconnect observer writes it
		}
		if got.Value != tc.value || got.Latency.Value != tc.want || !got.Latency.Timestamp.Time.Equal(wantAt) {
			t.Errorf("Connection status = %+v, want value %s latency %q at %s", got, tc.value, tc.want, wantAt)
		}
	}
}

func TestPodWithRequiredAffinityRunsOnMatchingKwokNode(t *testing.T) {
	ctx := context.Background()
	for name, zone := range map[string]string{"kwok-edge": "edge", "kwok-cloud": "cloud"} {
		if _, err := env.consumer.AddNode(ctx, name, map[string]string{"topology.kubernetes.io/zone": zone}); err != nil {
			t.Fatal(err)
		}
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "affine", Namespace: "default"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app:1"}},
			Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
					NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
						Key: "topology.kubernetes.io/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"cloud"},
					}}}},
				},
			}},
		},
	}
	if err := env.consumer.Client.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := env.consumer.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
			t.Fatal(err)
		}
		if pod.Status.Phase == corev1.PodRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod not Running after 60s: node %q phase %q conditions %+v",
				pod.Spec.NodeName, pod.Status.Phase, pod.Status.Conditions)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if pod.Spec.NodeName != "kwok-cloud" {
		t.Errorf("pod scheduled on %q, want kwok-cloud (the only node its required affinity admits)", pod.Spec.NodeName)
	}
}
