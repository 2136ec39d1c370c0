package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	liqopod "github.com/liqotech/liqo/pkg/webhooks/pod"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/benchout"
	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
)

// handlerFigures are one handler's figures on one pod shape at one inventory size.
type handlerFigures struct {
	Handler     string  `json:"handler"`
	Clusters    int     `json:"clusters"`
	Pod         string  `json:"pod"`
	P50Micros   float64 `json:"p50Micros"`
	P99Micros   float64 `json:"p99Micros"`
	AllocsPerOp float64 `json:"allocsPerOp"`
	BytesPerOp  float64 `json:"bytesPerOp"`
}

// TestPodHandlerAgainstLiqos measures xr-webhook's pod handler and Liqo v1.2.0's own pod
// mutating handler (pkg/webhooks/pod) side by side: one process, both reading the same
// warm informer caches of a real API server (N virtual nodes and their Connections,
// Liqo STAND-IN objects), the same admission requests, calls interleaved (and their
// order alternated) so the machine's noise falls on both. Without KUBEXR_BENCH it is the
// smoke run of `make test` (10 clusters, few rounds): it checks that both handlers admit
// and patch every pod and that figures come out; it asserts no timing. `make bench` sets
// KUBEXR_BENCH=1 (10, 100 and 1 000 clusters, 3 000 rounds) and KUBEXR_BENCH_OUT.
func TestPodHandlerAgainstLiqos(t *testing.T) {
	sizes, rounds := []int{10}, 50
	if os.Getenv("KUBEXR_BENCH") != "" {
		sizes, rounds = []int{10, 100, 1000}, 3000
	}
	if v := os.Getenv("KUBEXR_BENCH_SIZES"); v != "" { // e.g. 100 or 10,1000
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				t.Fatalf("KUBEXR_BENCH_SIZES=%q: want comma-separated cluster counts, e.g. 10,100,1000", v)
			}
			sizes = append(sizes, n)
		}
	}
	var all []handlerFigures
	for _, n := range sizes {
		all = append(all, compareHandlers(t, n, rounds)...)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| clusters | pod | xr p50 µs | Liqo p50 µs | ratio p50 | xr p99 µs | Liqo p99 µs | ratio p99 | xr allocs | Liqo allocs | xr B | Liqo B |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for i := 0; i+1 < len(all); i += 2 {
		x, l := all[i], all[i+1]
		fmt.Fprintf(&b, "| %d | %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f | %.0f | %.0f | %.0f | %.0f |\n", x.Clusters, x.Pod,
			x.P50Micros, l.P50Micros, x.P50Micros/l.P50Micros, x.P99Micros, l.P99Micros, x.P99Micros/l.P99Micros,
			x.AllocsPerOp, l.AllocsPerOp, x.BytesPerOp, l.BytesPerOp)
	}
	t.Logf("%d rounds, GOMAXPROCS %d, %s/%s:\n%s", rounds, goruntime.GOMAXPROCS(0), goruntime.GOOS, goruntime.GOARCH, b.String())
	benchout.Write(t, map[string]any{"rounds": rounds, "gomaxprocs": goruntime.GOMAXPROCS(0), "figures": all}, b.String())
}

func compareHandlers(t *testing.T, n, rounds int) []handlerFigures {
	ctx := context.Background()
	c := env.sb.StartClusterForTest(t, sandbox.ClusterOptions{Name: fmt.Sprintf("handlers-%d", n)})
	var liqo admission.Handler
	run, err := xrwebhook.Start(ctx, env.sb, c, func(mgr ctrl.Manager) { liqo = liqopod.New(mgr.GetClient(), "liqo") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Stop)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("cluster-%04d", i)
	}
	start := time.Now()
	standInClusters(t, c, ids)
	t.Logf("%d clusters: virtual nodes and Connections written in %s", n, time.Since(start).Round(time.Millisecond))
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "xr",
		Labels: map[string]string{policy.LabelEnabled: "true", "liqo.io/scheduling-enabled": "true"}}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.Create(ctx, offloadingTo("xr", ids...)); err != nil {
		t.Fatal(err)
	}
	// A hinted Deployment and its ReplicaSet, whose pods carry the user's own affinity.
	labels := map[string]string{"app": "stream"}
	deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "stream", Namespace: "xr",
		Annotations: map[string]string{policy.AnnotationLatencyClass: "low"}},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "xr/stream"}}}}}}
	if err := c.Client.Create(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "stream-5d9", Namespace: "xr", Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "stream", UID: deploy.UID, Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Selector: deploy.Spec.Selector, Template: deploy.Spec.Template}}
	if err := c.Client.Create(ctx, rs); err != nil {
		t.Fatal(err)
	}
	deployPod := barePod("xr", "stream-5d9-abcde", nil)
	deployPod.Labels = labels
	deployPod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}
	deployPod.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/arch", Operator: corev1.NodeSelectorOpIn, Values: []string{"amd64"}}}}}},
		PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{{Weight: 10,
			Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"edge"}}}}}}}}
	shapes := []struct {
		name string
		req  admission.Request
	}{
		{"deployment pod, user affinity", admissionRequest(t, deployPod)},
		{"bare hinted pod", admissionRequest(t, barePod("xr", "solo", map[string]string{policy.AnnotationLatencyClass: "low"}))},
	}
	ours := run.Webhook.PodHandler()
	// Warm caches: the observer holds every cluster, and both handlers see the owners
	// and the NamespaceOffloading (their first answers patch as they should).
	sandbox.Eventually(t, "xr-webhook's inventory holds every cluster and both handlers patch", time.Minute, func() (bool, string) {
		snap := run.Webhook.Store.Load()
		if snap == nil || snap.Inventory.Len() != n {
			return false, "inventory not complete"
		}
		for _, s := range shapes {
			for name, h := range map[string]admission.Handler{"xr-webhook": ours, "liqo": liqo} {
				if resp := h.Handle(ctx, s.req); !resp.Allowed || len(resp.Patches) == 0 {
					return false, fmt.Sprintf("%s on %s: allowed %v, %d patches, %v", name, s.name, resp.Allowed, len(resp.Patches), resp.Result)
				}
			}
		}
		return true, ""
	})
	t.Logf("%d clusters: caches warm after %s", n, time.Since(start).Round(time.Millisecond))
	var figures []handlerFigures
	for _, s := range shapes {
		for range 100 { // warm-up
			ours.Handle(ctx, s.req)
			liqo.Handle(ctx, s.req)
		}
		xr, lq := make([]time.Duration, 0, rounds), make([]time.Duration, 0, rounds)
		time1 := func(h admission.Handler) time.Duration {
			start := time.Now()
			h.Handle(ctx, s.req)
			return time.Since(start)
		}
		for i := range rounds {
			if i%2 == 0 {
				xr, lq = append(xr, time1(ours)), append(lq, time1(liqo))
			} else {
				lq, xr = append(lq, time1(liqo)), append(xr, time1(ours))
			}
		}
		for _, h := range []struct {
			name  string
			h     admission.Handler
			times []time.Duration
		}{{"xr-webhook", ours, xr}, {"liqo", liqo, lq}} {
			allocs, bytes := allocsPerCall(func() { h.h.Handle(ctx, s.req) })
			slices.Sort(h.times)
			figures = append(figures, handlerFigures{Handler: h.name, Clusters: n, Pod: s.name,
				P50Micros: micros(h.times[len(h.times)/2]), P99Micros: micros(h.times[len(h.times)*99/100]), AllocsPerOp: allocs, BytesPerOp: bytes})
		}
	}
	return figures
}

func micros(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 }

// allocsPerCall counts heap allocations and bytes per call of f over 200 calls (as
// testing.AllocsPerRun, with bytes too).
func allocsPerCall(f func()) (allocs, bytes float64) {
	defer goruntime.GOMAXPROCS(goruntime.GOMAXPROCS(1))
	f()
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	const calls = 200
	for range calls {
		f()
	}
	goruntime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / calls, float64(after.TotalAlloc-before.TotalAlloc) / calls
}

func admissionRequest(t *testing.T, pod *corev1.Pod) admission.Request {
	t.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{UID: "bench", Operation: admissionv1.Create,
		Namespace: pod.Namespace, Name: pod.Name, Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"}, Object: runtime.RawExtension{Raw: raw}}}
}

// standInClusters makes ids peered clusters (Liqo STAND-IN virtual nodes and Connected
// Connections, RTTs spread over 2–60 ms), 16 at a time.
func standInClusters(t *testing.T, c *sandbox.Cluster, ids []string) {
	t.Helper()
	ctx := context.Background()
	errs := make(chan error, len(ids))
	inParallel(16, len(ids), func(k int) {
		i := k - 1
		id := ids[i]
		if _, err := c.StandInVirtualNode(ctx, id, "vk-"+id); err != nil {
			errs <- err
			return
		}
		rtt := time.Duration(2+i%59) * time.Millisecond
		if err := c.StandInConnection(ctx, id, networkingv1beta1.Connected, rtt, time.Now()); err != nil {
			errs <- err
		}
	})
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
