package webhook_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/admissionbench"
	"github.com/kubexr/kubectl-xr/test/benchout"
	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
	"github.com/kubexr/kubectl-xr/webhook"
)

// TestAdmissionOverheadThroughTheAPIServer creates hinted pods through a real API server
// into five namespaces whose labels decide which webhooks apply, as in a real cluster, in
// interleaved rounds: (a) none, (b) xr-webhook's, (c) Liqo v1.2.0's pod webhook, (d) both,
// (e) a webhook that allows every pod without reading it — the floor any webhook costs
// here. xr-webhook and Liqo's handler are served over TLS by one in-process
// controller-runtime webhook server: a STAND-IN for the xr-webhook binary and Liqo's
// webhook Deployment (same handler code, same server library, not their processes;
// cmd/xr-webhook's TestAdmissionOverheadOfTheBinary measures the binary). Beside the
// client's view it reads the API server's own histogram of each webhook call and the
// webhook server's. Without KUBEXR_BENCH it is the smoke run of `make test` (one round
// of 32 pods per arm): every pod is created, every pod of (b) and (d) carries its
// decision, and the API server counted calls of every webhook; no timing is asserted.
// `make bench` sets KUBEXR_BENCH=1 (8 rounds of 256 pods per arm, 2 048 each) and
// KUBEXR_BENCH_OUT.
func TestAdmissionOverheadThroughTheAPIServer(t *testing.T) {
	rounds, perRound := 1, 32
	if os.Getenv("KUBEXR_BENCH") != "" {
		rounds, perRound = 8, 256
	}
	ctx := context.Background()
	c := env.sb.StartClusterForTest(t, sandbox.ClusterOptions{Name: "overhead"})
	run, err := xrwebhook.Start(ctx, env.sb, c, func(mgr ctrl.Manager) { serveLiqoWebhook(mgr) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Stop)
	registerLiqoOn(t, c, run.Port, run.CA)
	allowAll := admissionbench.StartAllowAll()
	t.Cleanup(allowAll.Close)
	if err := allowAll.Register(ctx, c.Client, allowAllLabel); err != nil {
		t.Fatal(err)
	}
	for id, rtt := range map[string]time.Duration{"near": 5 * time.Millisecond, "far": 60 * time.Millisecond} {
		if _, err := c.StandInVirtualNode(ctx, id, "vk-"+id); err != nil {
			t.Fatal(err)
		}
		if err := c.StandInConnection(ctx, id, networkingv1beta1.Connected, rtt, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	arms := []struct {
		name            string
		xr, liqo, floor bool
	}{{name: "a: no webhook"}, {name: "b: xr-webhook", xr: true}, {name: "c: Liqo's pod webhook", liqo: true},
		{name: "d: both", xr: true, liqo: true}, {name: "e: allow-all webhook (floor)", floor: true}}
	for i, arm := range arms {
		labels := map[string]string{}
		if arm.xr {
			labels[policy.LabelEnabled] = "true"
		}
		if arm.liqo {
			labels["liqo.io/scheduling-enabled"] = "true"
		}
		if arm.floor {
			labels[allowAllLabel] = "true"
		}
		ns := fmt.Sprintf("arm-%d", i)
		if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}); err != nil {
			t.Fatal(err)
		}
		if err := c.Client.Create(ctx, offloadingTo(ns, "near", "far")); err != nil {
			t.Fatal(err)
		}
	}
	hint := map[string]string{policy.AnnotationLatencyClass: "low"}
	// Both webhooks answer (the API server has their configurations, the caches are
	// warm): xr-webhook's decision in arm b, Liqo's virtual-node toleration in arm c
	// (where xr-webhook is not called), and the allow-all webhook in arm e.
	sandbox.Eventually(t, "every webhook answers a probe pod", time.Minute, func() (bool, string) {
		xrPod := barePod("arm-1", fmt.Sprintf("probe-%d", time.Now().UnixNano()), hint)
		liqoPod := barePod("arm-2", xrPod.Name, hint)
		floorPod := barePod("arm-4", xrPod.Name, hint)
		for _, pod := range []*corev1.Pod{xrPod, liqoPod, floorPod} {
			if err := c.Client.Create(ctx, pod); err != nil {
				return false, err.Error()
			}
		}
		liqoTolerates := slices.ContainsFunc(liqoPod.Spec.Tolerations, func(t corev1.Toleration) bool { return t.Key == "virtual-node.liqo.io/not-allowed" })
		return xrPod.Annotations[policy.AnnotationDecision] != "" && liqoTolerates,
			fmt.Sprintf("decision %q, Liqo's tolerations %v", xrPod.Annotations[policy.AnnotationDecision], liqoPod.Spec.Tolerations)
	})
	newPod := func(ns, name string) *corev1.Pod { return barePod(ns, name, maps.Clone(hint)) }
	var table, calls strings.Builder
	var results []map[string]any
	table.WriteString(admissionbench.TableHeader)
	calls.WriteString(admissionbench.CallsHeader)
	for _, clients := range []int{1, 16} {
		measured := make([]*admissionbench.Arm, len(arms))
		for i, arm := range arms {
			measured[i] = &admissionbench.Arm{Name: arm.name, Namespace: fmt.Sprintf("arm-%d", i), WantDecision: arm.xr}
		}
		apiBefore, servedBefore := webhookHistograms(ctx, t, c)
		for _, err := range admissionbench.Measure(ctx, c.Client, measured, clients, rounds, perRound, newPod) {
			t.Error(err)
		}
		apiAfter, servedAfter := webhookHistograms(ctx, t, c)
		table.WriteString(admissionbench.Rows(clients, measured))
		seen := map[string]any{}
		for _, w := range []struct{ name, path string }{
			{"placement.pods.kubexr.io", webhook.MutatePodPath}, {"pod.mutate.liqo.io", liqoPodPath}, {admissionbench.AllowAllName, ""},
		} {
			api := apiAfter[w.name].Since(apiBefore[w.name])
			served := servedAfter[w.path].Since(servedBefore[w.path])
			if api.Count == 0 {
				t.Errorf("%d clients: the API server counted no call of %s", clients, w.name)
			}
			calls.WriteString(admissionbench.CallRow(clients, w.name, api, servedText(w.path, served)))
			seen[w.name] = map[string]any{"calls": api.Count, "apiServerMeanMillis": api.MeanMillis(), "servedMeanMillis": served.MeanMillis()}
		}
		results = append(results, map[string]any{"clients": clients, "arms": measured, "webhookCalls": seen})
	}
	out := table.String() + "\n" + calls.String()
	t.Logf("%d rounds × %d pods per arm and client count, GOMAXPROCS %d:\n%s", rounds, perRound, goruntime.GOMAXPROCS(0), out)
	benchout.Write(t, map[string]any{"rounds": rounds, "podsPerRound": perRound, "results": results}, out)
}

// allowAllLabel opts a namespace into the allow-all webhook (arm e).
const allowAllLabel = "bench.kubexr.io/allow-all"

// webhookHistograms reads the API server's histogram of webhook calls by webhook name
// and this process's controller-runtime webhook server histogram by path.
func webhookHistograms(ctx context.Context, t *testing.T, c *sandbox.Cluster) (api, served map[string]admissionbench.Histogram) {
	t.Helper()
	api, err := admissionbench.APIServerWebhooks(ctx, c.Config)
	if err != nil {
		t.Fatal(err)
	}
	if served, err = admissionbench.Gathered(crmetrics.Registry, admissionbench.ServedName, "webhook"); err != nil {
		t.Fatal(err)
	}
	return api, served
}

func servedText(path string, h admissionbench.Histogram) string {
	if path == "" {
		return "not measured (plain net/http)"
	}
	return fmt.Sprintf("%.3f (≤ %.0f)", h.MeanMillis(), h.QuantileBoundMillis(0.99))
}

// registerLiqoOn registers pod.mutate.liqo.io on c as Liqo's chart does (Pod CREATE in
// namespaces labelled liqo.io/scheduling-enabled, failurePolicy Fail), served at port.
func registerLiqoOn(t *testing.T, c *sandbox.Cluster, port int, ca []byte) {
	t.Helper()
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "liqo-webhook"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "pod.mutate.liqo.io",
			AdmissionReviewVersions: []string{"v1", "v1beta1"},
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				URL: ptr.To(fmt.Sprintf("https://127.0.0.1:%d%s", port, liqoPodPath)), CABundle: ca},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
			SideEffects:       ptr.To(admissionregistrationv1.SideEffectClassNone),
			FailurePolicy:     ptr.To(admissionregistrationv1.Fail),
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"liqo.io/scheduling-enabled": "true"}},
		}},
	}
	if err := c.Client.Create(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}
