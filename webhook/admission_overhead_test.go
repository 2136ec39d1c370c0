package webhook_test

import (
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/benchout"
	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
)

// overheadConfig is one arm of the comparison: which webhooks a namespace's pods meet.
type overheadConfig struct {
	Name       string `json:"name"`
	xr, liqo   bool
	Pods       int     `json:"pods"`
	Failed     int     `json:"failed"`
	P50Millis  float64 `json:"p50Millis"`
	P99Millis  float64 `json:"p99Millis"`
	PodsPerSec float64 `json:"podsPerSecond"`
	busy       time.Duration
	latencies  []time.Duration
}

// TestAdmissionOverheadThroughTheAPIServer creates hinted pods with 16 concurrent
// clients through a real API server into four namespaces, in interleaved rounds: (a) no
// webhook applies, (b) xr-webhook's, (c) Liqo v1.2.0's pod webhook, (d) both — the
// namespaces' labels decide, as in a real cluster. Both webhooks are served over TLS by
// one in-process controller-runtime webhook server: a STAND-IN for the xr-webhook binary
// and Liqo's webhook Deployment (same handler code, same server library, not their
// processes). Without KUBEXR_BENCH it is the smoke run of `make test` (one round of 32
// pods per arm): every pod is created and every pod of (b) and (d) carries its decision;
// no timing is asserted. `make bench` sets KUBEXR_BENCH=1 (8 rounds of 256 pods per arm,
// 2 048 each) and KUBEXR_BENCH_OUT.
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
	for id, rtt := range map[string]time.Duration{"near": 5 * time.Millisecond, "far": 60 * time.Millisecond} {
		if _, err := c.StandInVirtualNode(ctx, id, "vk-"+id); err != nil {
			t.Fatal(err)
		}
		if err := c.StandInConnection(ctx, id, networkingv1beta1.Connected, rtt, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	arms := []struct {
		name     string
		xr, liqo bool
	}{{"a: no webhook", false, false}, {"b: xr-webhook", true, false}, {"c: Liqo's pod webhook", false, true}, {"d: both", true, true}}
	for i, arm := range arms {
		labels := map[string]string{}
		if arm.xr {
			labels[policy.LabelEnabled] = "true"
		}
		if arm.liqo {
			labels["liqo.io/scheduling-enabled"] = "true"
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
	// (where xr-webhook is not called).
	sandbox.Eventually(t, "both webhooks patch a probe pod", time.Minute, func() (bool, string) {
		xrPod := barePod("arm-1", fmt.Sprintf("probe-%d", time.Now().UnixNano()), hint)
		liqoPod := barePod("arm-2", xrPod.Name, hint)
		for _, pod := range []*corev1.Pod{xrPod, liqoPod} {
			if err := c.Client.Create(ctx, pod); err != nil {
				return false, err.Error()
			}
		}
		liqoTolerates := slices.ContainsFunc(liqoPod.Spec.Tolerations, func(t corev1.Toleration) bool { return t.Key == "virtual-node.liqo.io/not-allowed" })
		return xrPod.Annotations[policy.AnnotationDecision] != "" && liqoTolerates,
			fmt.Sprintf("decision %q, Liqo's tolerations %v", xrPod.Annotations[policy.AnnotationDecision], liqoPod.Spec.Tolerations)
	})
	var b strings.Builder
	var results []map[string]any
	fmt.Fprintf(&b, "| clients | arm | pods | failed | p50 ms | p99 ms | pods/s | p50 ÷ a | p99 ÷ a | throughput ÷ a |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, clients := range []int{1, 16} {
		configs := make([]*overheadConfig, len(arms))
		for i, arm := range arms {
			configs[i] = &overheadConfig{Name: arm.name, xr: arm.xr, liqo: arm.liqo}
		}
		measureArms(t, c, configs, clients, rounds, perRound, hint)
		base := configs[0]
		for _, cfg := range configs {
			fmt.Fprintf(&b, "| %d | %s | %d | %d | %.2f | %.2f | %.0f | %.2f | %.2f | %.2f |\n", clients, cfg.Name, cfg.Pods, cfg.Failed,
				cfg.P50Millis, cfg.P99Millis, cfg.PodsPerSec, cfg.P50Millis/base.P50Millis, cfg.P99Millis/base.P99Millis, cfg.PodsPerSec/base.PodsPerSec)
		}
		results = append(results, map[string]any{"clients": clients, "arms": configs})
	}
	t.Logf("%d rounds × %d pods per arm and client count, GOMAXPROCS %d:\n%s", rounds, perRound, goruntime.GOMAXPROCS(0), b.String())
	benchout.Write(t, map[string]any{"rounds": rounds, "podsPerRound": perRound, "results": results}, b.String())
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

// measureArms creates rounds × perRound hinted pods per arm with clients concurrent
// clients, the arms interleaved round by round, and fills each arm's figures.
func measureArms(t *testing.T, c *sandbox.Cluster, configs []*overheadConfig, clients, rounds, perRound int, hint map[string]string) {
	t.Helper()
	ctx := context.Background()
	for r := range rounds {
		for i, cfg := range configs {
			ns := fmt.Sprintf("arm-%d", i)
			var mu sync.Mutex
			start := time.Now()
			inParallel(clients, perRound, func(k int) {
				pod := barePod(ns, fmt.Sprintf("c%d-r%d-%d", clients, r, k), hint)
				began := time.Now()
				err := c.Client.Create(ctx, pod)
				took := time.Since(began)
				mu.Lock()
				defer mu.Unlock()
				cfg.Pods++
				if err != nil {
					cfg.Failed++
					t.Errorf("%s: create %s: %v", cfg.Name, pod.Name, err)
					return
				}
				cfg.latencies = append(cfg.latencies, took)
				if cfg.xr && pod.Annotations[policy.AnnotationDecision] == "" {
					t.Errorf("%s: pod %s carries no decision", cfg.Name, pod.Name)
				}
			})
			cfg.busy += time.Since(start)
		}
	}
	for _, cfg := range configs {
		slices.Sort(cfg.latencies)
		if len(cfg.latencies) == 0 {
			t.Fatalf("%s: no pod created", cfg.Name)
		}
		cfg.P50Millis = benchout.Millis(cfg.latencies[len(cfg.latencies)/2])
		cfg.P99Millis = benchout.Millis(cfg.latencies[len(cfg.latencies)*99/100])
		cfg.PodsPerSec = float64(len(cfg.latencies)) / cfg.busy.Seconds()
	}
}
