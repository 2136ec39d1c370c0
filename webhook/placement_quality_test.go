package webhook_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/benchout"
	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
)

// peerSite is one provider cluster of a topology: its RTT from the consumer and the CPU
// its virtual node offers.
type peerSite struct {
	ID    string
	RTT   time.Duration
	Cores int
}

// component is one XR pod to place: its class (bound) and CPU request.
type component struct {
	Name, Class string
	Bound       time.Duration // 0: best-effort
	MilliCPU    int64
}

// The classes of the mix, with their bounds as in manifests/classes.
var qualityClasses = []struct {
	Name  string
	Bound time.Duration
}{{"ultra-low", 10 * time.Millisecond}, {"low", 20 * time.Millisecond}, {"interactive", 50 * time.Millisecond}, {"best-effort", 0}}

// localNodeCores is the CPU of each of the consumer's two local nodes.
const localNodeCores = 2

// generateTopology draws peers (RTT 2–80 ms, 2/4/8 cores) and an XR application mix
// (four components per app, one of each class, 250–1000 mCPU) from seed.
func generateTopology(seed uint64, peers, apps int) ([]peerSite, []component) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	sites := make([]peerSite, peers)
	for i := range sites {
		sites[i] = peerSite{ID: fmt.Sprintf("peer-%02d", i), RTT: time.Duration(2+r.IntN(79)) * time.Millisecond, Cores: []int{2, 4, 8}[r.IntN(3)]}
	}
	return sites, generateApps(r, apps)
}

func generateApps(r *rand.Rand, apps int) []component {
	var comps []component
	for a := range apps {
		for _, c := range qualityClasses {
			comps = append(comps, component{Name: fmt.Sprintf("app%02d-%s", a, c.Name), Class: c.Name, Bound: c.Bound, MilliCPU: int64(250 * (1 + r.IntN(4)))})
		}
	}
	return comps
}

// readRTTCSV reads from,to,rtt_ms rows and keeps consumer's: its peers and their RTTs
// (cores drawn from seed, as the CSV has none).
func readRTTCSV(path, consumer string, seed uint64) ([]peerSite, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	var sites []peerSite
	for i, row := range rows {
		if len(row) != 3 {
			return nil, fmt.Errorf("%s line %d: want from,to,rtt_ms, got %d fields", path, i+1, len(row))
		}
		if i == 0 && row[2] == "rtt_ms" || row[0] != consumer || row[1] == consumer {
			continue
		}
		ms, err := strconv.ParseFloat(row[2], 64)
		if err != nil || ms < 0 {
			return nil, fmt.Errorf("%s line %d: rtt_ms %q is not a non-negative number", path, i+1, row[2])
		}
		sites = append(sites, peerSite{ID: sanitizeID(row[1]), RTT: time.Duration(ms * float64(time.Millisecond)), Cores: []int{2, 4, 8}[r.IntN(3)]})
	}
	if len(sites) == 0 {
		return nil, fmt.Errorf("%s: no row from %q to another cluster (--consumer names the local cluster's rows)", path, consumer)
	}
	return sites, nil
}

// sanitizeID makes a CSV cluster name a valid node name and label value.
func sanitizeID(s string) string {
	s = strings.ToLower(s)
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

// feasible says whether every component fits within its bound, by a greedy assignment
// (tightest bound first, to the fitting eligible node with the most CPU left): success
// proves a feasible placement exists; failure does not prove none does.
func feasible(sites []peerSite, comps []component) bool {
	left := map[string]int64{"local-1": localNodeCores * 1000, "local-2": localNodeCores * 1000}
	rtt := map[string]time.Duration{"local-1": 0, "local-2": 0}
	for _, s := range sites {
		left[s.ID], rtt[s.ID] = int64(s.Cores)*1000, s.RTT
	}
	order := slices.Clone(comps)
	slices.SortStableFunc(order, func(a, b component) int { return int(boundOrMax(a.Bound) - boundOrMax(b.Bound)) })
	for _, c := range order {
		best := ""
		for node, free := range left {
			if free >= c.MilliCPU && (c.Bound == 0 || rtt[node] <= c.Bound) && (best == "" || free > left[best] || free == left[best] && node < best) {
				best = node
			}
		}
		if best == "" {
			return false
		}
		left[best] -= c.MilliCPU
	}
	return true
}

func boundOrMax(d time.Duration) time.Duration {
	if d == 0 {
		return time.Hour
	}
	return d
}

// armResult is how one arm placed a topology's components.
type armResult struct {
	Pods, OutsideBound, Pending int
	LocalMilliCPU               int64
	RTTSum                      map[string]time.Duration
	Placed                      map[string]int
}

// TestPlacementQualityAgainstLiqosDefault places the same XR application mix on the same
// topology twice, with the real kube-scheduler: (a) Liqo's default offloading — Liqo
// v1.2.0's own pod webhook, no hints — and (b) with kubectl-xr's hints (xr-webhook and
// Liqo's webhook, as installed together). The providers are Liqo virtual nodes written by
// the Liqo STAND-IN (test/sandbox/liqostandin.go) with their Connections' RTT; the
// consumer has two local kwok nodes. It reports per arm the share of pods running outside
// their bound, the share Pending, the local CPU used and the mean RTT per class. Asserted
// (the goal, not a timing): with hints no pod runs outside its bound. Pending pods are
// reported, not asserted: the scheduler binds pods in creation order without knowing
// later ones' bounds, so it can fill a near cluster a tighter pod needed. Without KUBEXR_BENCH it is the smoke
// run of `make test` (1 topology); `make bench` sets KUBEXR_BENCH=1 (10 seeded
// topologies) and KUBEXR_BENCH_OUT. KUBEXR_RTT_CSV=FILE (from,to,rtt_ms) with
// KUBEXR_CONSUMER=NAME places on that topology instead of generated ones.
func TestPlacementQualityAgainstLiqosDefault(t *testing.T) {
	seeds := []uint64{1}
	if os.Getenv("KUBEXR_BENCH") != "" {
		seeds = []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	}
	const peers, apps = 6, 5
	type topologyFigures struct {
		Seed     uint64
		Feasible bool
		Arms     map[string]armResult
	}
	var all []topologyFigures
	var b strings.Builder
	fmt.Fprintf(&b, "| topology | feasible | arm | pods | outside bound | Pending | local CPU used | mean RTT ultra-low / low / interactive / best-effort (ms) |\n|---|---|---|---|---|---|---|---|\n")
	for _, seed := range seeds {
		sites, comps := generateTopology(seed, peers, apps)
		if path := os.Getenv("KUBEXR_RTT_CSV"); path != "" {
			var err error
			if sites, err = readRTTCSV(path, os.Getenv("KUBEXR_CONSUMER"), seed); err != nil {
				t.Fatal(err)
			}
		}
		fig := topologyFigures{Seed: seed, Feasible: feasible(sites, comps), Arms: map[string]armResult{}}
		// A subtest per topology: its cluster stops before the next one starts.
		t.Run(fmt.Sprintf("topology-%d", seed), func(t *testing.T) {
			c := qualityCluster(t, seed, sites)
			for _, arm := range []string{"a: Liqo default", "b: kubectl-xr hints"} {
				res := placeArm(t, c, sites, comps, arm == "b: kubectl-xr hints")
				fig.Arms[arm] = res
				fmt.Fprintf(&b, "| %d | %v | %s | %d | %.0f %% | %.0f %% | %.0f %% | %s |\n", seed, fig.Feasible, arm, res.Pods,
					percent(res.OutsideBound, res.Pods), percent(res.Pending, res.Pods),
					percent(int(res.LocalMilliCPU), 2*localNodeCores*1000), meanRTTs(res))
				if arm == "b: kubectl-xr hints" {
					if res.OutsideBound > 0 {
						t.Errorf("topology %d: %d pods placed by kubectl-xr's hints run outside their bound", seed, res.OutsideBound)
					}
				}
			}
		})
		all = append(all, fig)
	}
	violated := 0
	for _, f := range all {
		if f.Arms["a: Liqo default"].OutsideBound > 0 {
			violated++
		}
	}
	fmt.Fprintf(&b, "\nLiqo's default placed pods outside their bound in %d of %d topologies.\n", violated, len(all))
	t.Logf("%d topologies of %d peers and %d apps:\n%s", len(all), peers, apps, b.String())
	benchout.Write(t, all, b.String())
}

// qualityCluster starts a consumer with the real scheduler, two local kwok nodes of
// localNodeCores each and one Liqo stand-in virtual node per site, runs xr-webhook and
// Liqo's pod webhook against it, and waits until the observer has measured every site.
func qualityCluster(t *testing.T, seed uint64, sites []peerSite) *sandbox.Cluster {
	t.Helper()
	ctx := context.Background()
	c := env.sb.StartClusterForTest(t, sandbox.ClusterOptions{Name: fmt.Sprintf("quality-%d", seed), Scheduler: true, Kwok: true})
	run, err := xrwebhook.Start(ctx, env.sb, c, serveLiqoWebhook)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Stop)
	registerLiqoOn(t, c, run.Port, run.CA)
	for _, name := range []string{"local-1", "local-2"} {
		if _, err := c.AddNode(ctx, name, nil); err != nil {
			t.Fatal(err)
		}
		setCores(t, c, name, localNodeCores)
	}
	for _, s := range sites {
		if _, err := c.StandInVirtualNode(ctx, s.ID, s.ID); err != nil {
			t.Fatal(err)
		}
		setCores(t, c, s.ID, s.Cores)
		if err := c.StandInConnection(ctx, s.ID, networkingv1beta1.Connected, s.RTT, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	sandbox.Eventually(t, "the observer measured every site", time.Minute, func() (bool, string) {
		for _, s := range sites {
			n := &corev1.Node{}
			if err := c.Client.Get(ctx, client.ObjectKey{Name: s.ID}, n); err != nil || n.Annotations[policy.AnnotationRTT] == "" {
				return false, s.ID + " not measured yet"
			}
		}
		return true, ""
	})
	return c
}

// setCores sets a node's CPU capacity once it is Ready (kwok keeps what it finds then).
func setCores(t *testing.T, c *sandbox.Cluster, name string, cores int) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.WaitNodeReady(ctx, name); err != nil {
		t.Fatal(err)
	}
	n := &corev1.Node{}
	if err := c.Client.Get(ctx, client.ObjectKey{Name: name}, n); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(n.DeepCopy())
	cpu := resource.MustParse(strconv.Itoa(cores))
	n.Status.Capacity[corev1.ResourceCPU], n.Status.Allocatable[corev1.ResourceCPU] = cpu, cpu
	if err := c.Client.Status().Patch(ctx, n, patch); err != nil {
		t.Fatal(err)
	}
}

// placeArm creates the components as bare pods in a fresh offloaded namespace (with the
// class hints when hinted), waits until the scheduler has bound or given up on each, and
// judges them against their bounds with the injected RTTs.
func placeArm(t *testing.T, c *sandbox.Cluster, sites []peerSite, comps []component, hinted bool) armResult {
	t.Helper()
	ctx := context.Background()
	ns := "liqo-default"
	labels := map[string]string{"liqo.io/scheduling-enabled": "true"}
	if hinted {
		ns = "xr-hints"
		labels[policy.LabelEnabled] = "true"
	}
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.Create(ctx, sandbox.OffloadingToAllPeers(ns)); err != nil {
		t.Fatal(err)
	}
	for _, comp := range comps {
		annotations := map[string]string{}
		if hinted {
			annotations[policy.AnnotationLatencyClass] = comp.Class
		}
		pod := barePod(ns, comp.Name, annotations)
		pod.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceCPU: *resource.NewMilliQuantity(comp.MilliCPU, resource.DecimalSI)}
		if err := c.Client.Create(ctx, pod); err != nil {
			t.Fatalf("create %s/%s: %v", ns, comp.Name, err)
		}
	}
	var pods corev1.PodList
	sandbox.Eventually(t, "the scheduler bound or gave up on every pod in "+ns, 2*time.Minute, func() (bool, string) {
		if err := c.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		for _, p := range pods.Items {
			if p.Spec.NodeName == "" && !unschedulable(&p) {
				return false, p.Name + " not decided yet"
			}
		}
		return len(pods.Items) == len(comps), fmt.Sprintf("%d pods", len(pods.Items))
	})
	rtt := map[string]time.Duration{}
	for _, s := range sites {
		rtt[s.ID] = s.RTT
	}
	byName := map[string]component{}
	for _, comp := range comps {
		byName[comp.Name] = comp
	}
	res := armResult{Pods: len(pods.Items), RTTSum: map[string]time.Duration{}, Placed: map[string]int{}}
	for _, p := range pods.Items {
		comp := byName[p.Name]
		if p.Spec.NodeName == "" {
			res.Pending++
			continue
		}
		d, remote := rtt[p.Spec.NodeName]
		if !remote {
			res.LocalMilliCPU += comp.MilliCPU
		}
		if comp.Bound > 0 && d > comp.Bound {
			res.OutsideBound++
		}
		res.RTTSum[comp.Class] += d
		res.Placed[comp.Class]++
	}
	// The next arm starts from empty nodes.
	if err := c.Client.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(ns), client.GracePeriodSeconds(0)); err != nil {
		t.Fatal(err)
	}
	sandbox.Eventually(t, "the pods of "+ns+" gone", time.Minute, func() (bool, string) {
		var left corev1.PodList
		err := c.Client.List(ctx, &left, client.InNamespace(ns))
		return err == nil && len(left.Items) == 0, fmt.Sprintf("%d left", len(left.Items))
	})
	return res
}

func unschedulable(p *corev1.Pod) bool {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
			return true
		}
	}
	return false
}

func percent(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func meanRTTs(res armResult) string {
	var parts []string
	for _, c := range qualityClasses {
		if res.Placed[c.Name] == 0 {
			parts = append(parts, "-")
			continue
		}
		parts = append(parts, fmt.Sprintf("%.1f", float64((res.RTTSum[c.Name]/time.Duration(res.Placed[c.Name])).Microseconds())/1000))
	}
	return strings.Join(parts, " / ")
}

func TestRTTCSVKeepsTheConsumersRowsAndSaysWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		path := fmt.Sprintf("%s/%d.csv", dir, len(body))
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	sites, err := readRTTCSV(write("from,to,rtt_ms\nFrankfurt,Geneva,9.5\nFrankfurt,Athens,41\nGeneva,Athens,38\nFrankfurt,Frankfurt,0\n"), "Frankfurt", 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(sites) != 2 || sites[0].ID != "geneva" || sites[0].RTT != 9500*time.Microsecond || sites[1].ID != "athens" || sites[1].RTT != 41*time.Millisecond {
		t.Errorf("sites %+v", sites)
	}
	for body, want := range map[string]string{
		"a,b\n":          "want from,to,rtt_ms, got 2 fields",
		"a,b,fast\n":     `rtt_ms "fast" is not a non-negative number`,
		"x,y,3\n":        `no row from "a" to another cluster`,
		"a,b,-1\n":       `rtt_ms "-1" is not a non-negative number`,
		"from,to,rtt_ms": `no row from "a"`,
	} {
		if _, err := readRTTCSV(write(body), "a", 1); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

func TestFeasibleFindsAPlacementWithinEveryBound(t *testing.T) {
	near := []peerSite{{ID: "near", RTT: 5 * time.Millisecond, Cores: 2}}
	far := []peerSite{{ID: "far", RTT: 60 * time.Millisecond, Cores: 8}}
	tight := component{Name: "r", Class: "ultra-low", Bound: 10 * time.Millisecond, MilliCPU: 1000}
	for name, tc := range map[string]struct {
		sites []peerSite
		comps []component
		want  bool
	}{
		"locals hold it":               {far, []component{tight, tight, tight, tight}, true},
		"a fifth tight pod needs near": {far, []component{tight, tight, tight, tight, tight}, false},
		"near takes the fifth":         {near, []component{tight, tight, tight, tight, tight}, true},
		"best-effort anywhere":         {far, []component{{Name: "b", MilliCPU: 8000}, tight}, true},
	} {
		if got := feasible(tc.sites, tc.comps); got != tc.want {
			t.Errorf("%s: feasible = %v, want %v", name, got, tc.want)
		}
	}
}
