package webhook_test

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
)

// A mixed XR application on a consumer with two local kwok nodes and three stand-in
// peered clusters; the real kube-scheduler places every pod and kwok runs it. Each pod
// must land where its class allows.
func TestMixedXRApplicationLandsWithinBounds(t *testing.T) {
	athens, frankfurt, geneva := peer(t, "t7-athens", 4*time.Millisecond), peer(t, "t7-frankfurt", 14*time.Millisecond),
		peer(t, "t7-geneva", 38*time.Millisecond)
	waitClass(t, athens, "ultra-low")
	waitClass(t, frankfurt, "low")
	waitClass(t, geneva, "interactive")
	local := []string{"local-1", "local-2"}
	xrNamespace(t, "xr-app", map[string]string{policy.AnnotationLatencyClass: "interactive"},
		"t7-athens", "t7-frankfurt", "t7-geneva")

	render := deployment("xr-app", "render", 2, map[string]string{
		policy.AnnotationLatencyClass: "ultra-low", policy.AnnotationPlacement: "remote"}, nil)
	stream := deployment("xr-app", "stream", 3, map[string]string{policy.AnnotationLatencyClass: "low"}, nil)
	stream.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "rtp", ContainerPort: 5004, Protocol: corev1.ProtocolUDP}}
	clientApp := deployment("xr-app", "client", 2, nil, nil) // namespace default: interactive
	analytics := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "analytics", Namespace: "xr-app",
			Annotations: map[string]string{policy.AnnotationLatencyClass: "best-effort"}},
		Spec: batchv1.JobSpec{Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](2), Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "analytics"}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "c", Image: "xr/analytics"}}},
		}},
	}
	for _, o := range []client.Object{render, stream, clientApp, analytics} {
		create(t, o)
	}
	allowed := map[string][]string{
		"render":    {athens},
		"stream":    append([]string{athens, frankfurt}, local...),
		"client":    append([]string{athens, frankfurt, geneva}, local...),
		"analytics": append([]string{athens, frankfurt, geneva}, local...),
	}
	counts := map[string]int{"render": 2, "stream": 3, "client": 2, "analytics": 2}
	for app, n := range counts {
		pods := waitScheduled(t, "xr-app", app, n)
		for _, p := range pods {
			t.Logf("%-9s %-28s on %s", app, p.Name, p.Spec.NodeName)
			if !slices.Contains(allowed[app], p.Spec.NodeName) {
				t.Errorf("%s pod %s landed on %s, allowed: %v", app, p.Name, p.Spec.NodeName, allowed[app])
			}
		}
	}

	// What a user sees with the real kubectl.
	out, err := exec.Command(env.sb.Binary("kubectl"), "--kubeconfig", env.c.KubeconfigPath,
		"get", "nodes", athens, frankfurt, geneva, "-L", policy.LabelLatencyClass).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl get nodes: %v\n%s", err, out)
	}
	t.Logf("kubectl get nodes -L %s:\n%s", policy.LabelLatencyClass, out)
	for node, class := range map[string]string{athens: "ultra-low", frankfurt: "low", geneva: "interactive"} {
		if !regexp.MustCompile(`(?m)^` + node + `\s.*\s` + class + `$`).Match(out) {
			t.Errorf("kubectl get nodes -L: no row %s ... %s", node, class)
		}
	}

	// The operations view: inventory size, per-cluster RTT, decisions timed.
	if got := testutil.ToFloat64(env.metrics.ClusterRTTSeconds.WithLabelValues("t7-athens")); got != 0.004 {
		t.Errorf("kubexr_cluster_rtt_seconds{cluster=t7-athens} = %v, want 0.004", got)
	}
	if got := testutil.ToFloat64(env.metrics.ClusterClass.WithLabelValues("t7-geneva", "interactive")); got != 1 {
		t.Errorf("kubexr_cluster_latency_class{t7-geneva,interactive} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(env.metrics.InventoryClusters); got < 3 {
		t.Errorf("kubexr_inventory_clusters = %v, want at least 3", got)
	}
	if n := testutil.CollectAndCount(env.metrics.DecisionSeconds); n != 1 {
		t.Errorf("decision histogram series = %d, want 1", n)
	}
}

// waitScheduled waits until n pods of app are bound to a node and Running.
func waitScheduled(t *testing.T, ns, app string, n int) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	eventually(t, fmt.Sprintf("%d %s pods Running", n, app), func() (bool, string) {
		if err := env.c.Client.List(context.Background(), &pods, client.InNamespace(ns), client.MatchingLabels{"app": app}); err != nil {
			return false, err.Error()
		}
		var states []string
		running := 0
		for _, p := range pods.Items {
			if p.Spec.NodeName != "" && (p.Status.Phase == corev1.PodRunning || p.Status.Phase == corev1.PodSucceeded) {
				running++
			}
			states = append(states, p.Name+"="+string(p.Status.Phase)+"@"+p.Spec.NodeName)
		}
		return running >= n, strings.Join(states, ", ")
	})
	return pods.Items
}
