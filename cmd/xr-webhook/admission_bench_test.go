package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/admissionbench"
	"github.com/kubexr/kubectl-xr/test/benchout"
	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
	"github.com/kubexr/kubectl-xr/webhook"
)

// TestAdmissionOverheadOfTheBinary is BENCHMARKS.md §3 with the real xr-webhook binary
// (built as shipped, its webhook configurations exactly as shipped, serving TLS,
// started with its ServiceAccount's RBAC) against one harness API server, in interleaved
// rounds of three arms, each creating pods owned by a ReplicaSet as its controller
// would: (a) no webhook, (b) xr-webhook, (e) a webhook that allows every pod without
// reading it (admissionbench.AllowAll: the floor any webhook costs here).
// Beside the clients' view it reads the API server's histogram of each webhook call and
// xr-webhook's own (its /metrics). Without KUBEXR_BENCH it is the smoke run of `make
// test` (one round of 32 pods per arm): every pod is created, every pod of (b) carries
// its decision and both webhooks were called; no timing is asserted. `make bench` sets
// KUBEXR_BENCH=1 (8 rounds of 256 pods per arm and client count) and KUBEXR_BENCH_OUT.
// KUBEXR_PPROF_DIR=DIR keeps 10 s CPU profiles of xr-webhook and of the API server taken
// while one client creates arm (b)'s pods.
func TestAdmissionOverheadOfTheBinary(t *testing.T) {
	rounds, perRound := 1, 32
	if os.Getenv("KUBEXR_BENCH") != "" {
		rounds, perRound = 8, 256
	}
	ctx := context.Background()
	sb := sandbox.NewForTest(t)
	c := sb.StartClusterForTest(t, sandbox.ClusterOptions{Name: "admission"})
	binary := filepath.Join(t.TempDir(), "xr-webhook")
	if out, err := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", binary, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for id, rtt := range map[string]time.Duration{"near": 5 * time.Millisecond, "far": 60 * time.Millisecond} {
		if _, err := c.StandInVirtualNode(ctx, id, "vk-"+id); err != nil {
			t.Fatal(err)
		}
		if err := c.StandInConnection(ctx, id, networkingv1beta1.Connected, rtt, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	const allowAllLabel = "bench.kubexr.io/allow-all"
	arms := []*admissionbench.Arm{
		{Name: "a: no webhook", Namespace: "none"},
		{Name: "b: xr-webhook (binary)", Namespace: "xr", WantDecision: true},
		{Name: "e: allow-all webhook (floor)", Namespace: "floor"},
	}
	// Pods as a ReplicaSet creates them (no controller runs here to act on it): most
	// pods are a controller's, and their placement is told on the controller.
	owners := map[string]types.UID{}
	nsLabels := map[string]map[string]string{"none": {}, "xr": {policy.LabelEnabled: "true"}, "floor": {allowAllLabel: "true"}}
	for _, arm := range arms {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: arm.Namespace, Labels: nsLabels[arm.Namespace],
			// Pods no scheduler binds are not the mover's business here.
			Annotations: map[string]string{policy.AnnotationMove: string(policy.MoveNever)}}}
		if err := c.Client.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
		if err := c.Client.Create(ctx, sandbox.OffloadingToAllPeers(arm.Namespace)); err != nil {
			t.Fatal(err)
		}
		rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: arm.Namespace},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](0), Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "app"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "app"}}, Spec: basePod(arm.Namespace, 0).Spec}}}
		if err := c.Client.Create(ctx, rs); err != nil {
			t.Fatal(err)
		}
		owners[arm.Namespace] = rs.UID
	}
	allowAll := admissionbench.StartAllowAll()
	t.Cleanup(allowAll.Close)
	if err := allowAll.Register(ctx, c.Client, allowAllLabel); err != nil {
		t.Fatal(err)
	}
	metricsPort, err := sandbox.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	pprofPort, err := sandbox.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	b, err := xrwebhook.StartBinaryWithFlags(ctx, sb, c, binary,
		[]string{"--metrics-secure=false", fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort),
			fmt.Sprintf("--pprof-bind-address=127.0.0.1:%d", pprofPort)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	hinted := func(ns, name string) *corev1.Pod {
		pod := basePod(ns, 0)
		pod.Name = name
		pod.Annotations[policy.AnnotationLatencyClass] = "low"
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "app",
			UID: owners[ns], Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}
		return pod
	}
	sandbox.Eventually(t, "xr-webhook places a probe pod", time.Minute, func() (bool, string) {
		pod := hinted("xr", fmt.Sprintf("probe-%d", time.Now().UnixNano()))
		if err := c.Client.Create(ctx, pod); err != nil {
			return false, err.Error()
		}
		return pod.Annotations[policy.AnnotationDecision] != "", "no decision on " + pod.Name
	})

	var table, calls strings.Builder
	table.WriteString(admissionbench.TableHeader)
	calls.WriteString(admissionbench.CallsHeader)
	var results []map[string]any
	for _, clients := range []int{1, 16} {
		measured := make([]*admissionbench.Arm, len(arms))
		for i, arm := range arms {
			measured[i] = &admissionbench.Arm{Name: arm.Name, Namespace: arm.Namespace, WantDecision: arm.WantDecision}
		}
		apiBefore, servedBefore := binaryHistograms(ctx, t, c, metricsURL)
		var profiles sync.WaitGroup
		if dir := os.Getenv("KUBEXR_PPROF_DIR"); dir != "" && clients == 1 {
			profiles.Go(func() { cpuProfiles(ctx, t, c, dir, pprofPort) })
		}
		for _, err := range admissionbench.Measure(ctx, c.Client, measured, clients, rounds, perRound, hinted) {
			t.Error(err)
		}
		profiles.Wait()
		apiAfter, servedAfter := binaryHistograms(ctx, t, c, metricsURL)
		table.WriteString(admissionbench.Rows(clients, measured))
		seen := map[string]any{}
		for _, name := range []string{"placement.pods.kubexr.io", "hints.kubexr.io", admissionbench.AllowAllName} {
			api := apiAfter[name].Since(apiBefore[name])
			servedText := "not measured (plain net/http)"
			var servedMean float64
			if name == "placement.pods.kubexr.io" {
				served := servedAfter[webhook.MutatePodPath].Since(servedBefore[webhook.MutatePodPath])
				servedMean = served.MeanMillis()
				servedText = fmt.Sprintf("%.3f (≤ %.0f)", servedMean, served.QuantileBoundMillis(0.99))
				if api.Count == 0 || served.Count == 0 {
					t.Errorf("%d clients: xr-webhook's placement was called %d times (API server) and served %d times", clients, api.Count, served.Count)
				}
			}
			if name == admissionbench.AllowAllName && api.Count == 0 {
				t.Errorf("%d clients: the API server counted no call of %s", clients, name)
			}
			if name == "hints.kubexr.io" && api.Count != 0 {
				// Pod CREATEs are the placement's to judge (one webhook call per pod).
				t.Errorf("%d clients: hints.kubexr.io was called %d times for pod creations; want 0", clients, api.Count)
			}
			calls.WriteString(admissionbench.CallRow(clients, name, api, servedText))
			seen[name] = map[string]any{"calls": api.Count, "apiServerMeanMillis": api.MeanMillis(), "servedMeanMillis": servedMean}
		}
		results = append(results, map[string]any{"clients": clients, "arms": measured, "webhookCalls": seen})
	}
	// What xr-webhook wrote besides the pods: its Events in arm (b)'s namespace.
	var events corev1.EventList
	if err := c.Client.List(ctx, &events, client.InNamespace("xr")); err != nil {
		t.Fatal(err)
	}
	byReason, told := map[string]int{}, map[string]bool{}
	for _, e := range events.Items {
		byReason[e.Reason+" on "+e.InvolvedObject.Kind]++
		if e.Reason == webhook.ReasonPlaced {
			// "pods from pod/NAME on: <decision> (from pod/NAME)…": the decision told.
			_, decision, _ := strings.Cut(e.Message, " on: ")
			decision = regexp.MustCompile(`pod/[a-z0-9-]+`).ReplaceAllString(decision, "pod")
			if told[decision] {
				t.Errorf("the same decision was told twice: %s", e.Message)
			}
			told[decision] = true
		}
	}
	t.Logf("Events in arm (b)'s namespace after %d pods: %v", 2*rounds*perRound, byReason)
	if n := byReason[webhook.ReasonPlaced+" on ReplicaSet"]; n < 1 || n != len(events.Items) {
		t.Errorf("Events in arm (b)'s namespace: %v; want only %s on its ReplicaSet, once per decision", byReason, webhook.ReasonPlaced)
	}
	machine := fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	out := table.String() + "\n" + calls.String()
	t.Logf("%s, %d rounds × %d pods per arm and client count:\n%s", machine, rounds, perRound, out)
	benchout.Write(t, map[string]any{"machine": machine, "rounds": rounds, "podsPerRound": perRound, "results": results}, out)
}

func binaryHistograms(ctx context.Context, t *testing.T, c *sandbox.Cluster, metricsURL string) (api, served map[string]admissionbench.Histogram) {
	t.Helper()
	api, err := admissionbench.APIServerWebhooks(ctx, c.Config)
	if err != nil {
		t.Fatal(err)
	}
	if served, err = admissionbench.ServedWebhooks(metricsURL); err != nil {
		t.Fatal(err)
	}
	return api, served
}

// cpuProfiles saves 10 s CPU profiles of xr-webhook and of the API server, taken at once.
func cpuProfiles(ctx context.Context, t *testing.T, c *sandbox.Cluster, dir string, pprofPort int) {
	var wg sync.WaitGroup
	wg.Go(func() {
		url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=10", pprofPort)
		if err := saveProfile(url, filepath.Join(dir, "xr-webhook.cpu.pprof")); err != nil {
			t.Errorf("xr-webhook's CPU profile: %v", err)
		}
	})
	wg.Go(func() {
		cs, err := kubernetes.NewForConfig(c.Config)
		if err == nil {
			var raw []byte
			raw, err = cs.RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "10").Timeout(time.Minute).DoRaw(ctx)
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, "kube-apiserver.cpu.pprof"), raw, 0o644)
			}
		}
		if err != nil {
			t.Errorf("the API server's CPU profile: %v", err)
		}
	})
	wg.Wait()
}
