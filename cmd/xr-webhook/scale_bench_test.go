package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/benchout"
	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
)

// scaleFigures is what TestScaleWithManyVirtualNodesAndPods measures (BENCHMARKS.md §6).
type scaleFigures struct {
	Machine            string  `json:"machine"`
	VirtualNodes       int     `json:"virtualNodes"`
	Pods               int     `json:"pods"`
	Clients            int     `json:"clients"`
	PeakRSSMiB         float64 `json:"peakRssMiB"`
	RSSMiB             float64 `json:"rssMiB"`
	RSSAnonMiB         float64 `json:"rssAnonMiB"`
	RSSFileMiB         float64 `json:"rssFileMiB"`
	HeapAllocMiB       float64 `json:"heapAllocMiB"`
	LiveHeapMiB        float64 `json:"liveHeapMiB"`
	HeapInuseMiB       float64 `json:"heapInuseMiB"`
	MemoryLimitMiB     float64 `json:"memoryLimitMiB"`
	DecisionP50Micros  float64 `json:"decisionP50Micros"`
	DecisionP99Micros  float64 `json:"decisionP99Micros"`
	CreateP50Millis    float64 `json:"createP50Millis"`
	CreateP99Millis    float64 `json:"createP99Millis"`
	ReactionSamples    int     `json:"reactionSamples"`
	ReactionP50Millis  float64 `json:"reactionP50Millis"`
	ReactionMaxMillis  float64 `json:"reactionMaxMillis"`
	ReactionsWithin1s  int     `json:"reactionsWithin1s"`
	InventoryReadySecs float64 `json:"inventoryReadySecs"`
}

// TestScaleWithManyVirtualNodesAndPods runs the real xr-webhook binary, started as its
// Deployment runs it (GOMEMLIMIT = the container's memory limit), against one cluster
// holding many Liqo virtual nodes and their Connections — written by the Liqo STAND-IN
// (test/sandbox/liqostandin.go: the objects Liqo writes, no peering) — and creates hinted
// pods through the API server, which calls xr-webhook for each. It reports xr-webhook's
// RSS and Go heap with those caches, its decision time (its own histogram), the pod
// create latency, and the observer's reaction: from a Connection status update to the
// virtual node's kubexr.io/rtt annotation changing. Without KUBEXR_BENCH it is the smoke
// run of `make test` (50 nodes, 500 pods, 5 reactions): every pod carries a decision and
// every reaction is seen; no figure is asserted. `make bench` sets KUBEXR_BENCH=1 (1 000
// virtual nodes, 10 000 pods, 20 reactions) and KUBEXR_BENCH_OUT. KUBEXR_SCALE=NODES,PODS
// picks another size; KUBEXR_PPROF_OUT=FILE keeps the heap profile taken at the end (it
// forces the collection after which the live heap is read).
func TestScaleWithManyVirtualNodesAndPods(t *testing.T) {
	nodes, pods, reactions := 50, 500, 5
	if os.Getenv("KUBEXR_BENCH") != "" {
		nodes, pods, reactions = 1000, 10000, 20
	}
	if v := os.Getenv("KUBEXR_SCALE"); v != "" { // "NODES,PODS": another size, e.g. to profile
		if _, err := fmt.Sscanf(v, "%d,%d", &nodes, &pods); err != nil || nodes < reactions || pods < 1 {
			t.Fatalf("KUBEXR_SCALE=%q: want NODES,PODS with at least %d nodes and 1 pod, e.g. 200,3000", v, reactions)
		}
	}
	const clients = 16
	ctx := context.Background()
	sb := sandbox.NewForTest(t)
	c := sb.StartClusterForTest(t, sandbox.ClusterOptions{Name: "scale"})
	limit := memoryLimit(t, sb)
	binary := filepath.Join(t.TempDir(), "xr-webhook")
	// Built as make build and the image build it (no symbol table or DWARF).
	if out, err := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", binary, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// The peers: a virtual node and a Connection each, RTTs spread over every class.
	start := time.Now()
	rttOf := func(i int) time.Duration { return time.Duration(3+i%60) * time.Millisecond }
	parallel(t, clients, nodes, func(i int) error {
		id := peerName(i)
		if _, err := c.StandInVirtualNode(ctx, id, id); err != nil {
			return err
		}
		return c.StandInConnection(ctx, id, networkingv1beta1.Connected, rttOf(i), time.Now())
	})
	t.Logf("%d virtual nodes and Connections (Liqo stand-in) in %s", nodes, time.Since(start).Round(time.Millisecond))

	// An opted-in namespace offloaded to every peer; move never: this measures caches
	// and decisions, not moves of pods no scheduler binds.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "xr", Labels: map[string]string{policy.LabelEnabled: "true"},
		Annotations: map[string]string{policy.AnnotationMove: string(policy.MoveNever)}}}
	if err := c.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	if err := c.Client.Create(ctx, sandbox.OffloadingToAllPeers("xr")); err != nil {
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
	start = time.Now()
	b, err := xrwebhook.StartBinaryWithFlags(ctx, sb, c, binary,
		[]string{"--metrics-secure=false", fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort),
			fmt.Sprintf("--pprof-bind-address=127.0.0.1:%d", pprofPort)},
		fmt.Sprintf("GOMEMLIMIT=%d", limit))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Stop)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
	sandbox.Eventually(t, "xr-webhook's inventory holds every peer", 3*time.Minute, func() (bool, string) {
		m, err := scrape(metricsURL)
		return err == nil && m["kubexr_inventory_clusters"] == float64(nodes), fmt.Sprintf("%v (%v)", m["kubexr_inventory_clusters"], err)
	})
	fig := scaleFigures{Machine: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
		VirtualNodes: nodes, Pods: pods, Clients: clients, MemoryLimitMiB: mib(limit),
		InventoryReadySecs: time.Since(start).Seconds()}

	// Hinted pods through the API server: each one is xr-webhook's decision.
	latencies := make([]time.Duration, pods)
	parallel(t, clients, pods, func(i int) error {
		pod := basePod("xr", i)
		pod.Annotations[policy.AnnotationLatencyClass] = "low"
		began := time.Now()
		err := c.Client.Create(ctx, pod)
		latencies[i] = time.Since(began)
		if err == nil && pod.Annotations[policy.AnnotationDecision] == "" {
			return fmt.Errorf("pod %s admitted without xr-webhook's decision", pod.Name)
		}
		return err
	})
	slices.Sort(latencies)
	fig.CreateP50Millis, fig.CreateP99Millis = benchout.Millis(quantile(latencies, 0.5)), benchout.Millis(quantile(latencies, 0.99))

	// The observer's reaction to a new measurement, one peer at a time.
	var reacted []time.Duration
	for r := range reactions {
		id := peerName(r * (nodes / reactions))
		before := rttAnnotation(ctx, t, c, id)
		sent := time.Now()
		if err := c.StandInConnection(ctx, id, networkingv1beta1.Connected, 80*time.Millisecond, sent); err != nil {
			t.Fatal(err)
		}
		sandbox.Eventually(t, id+"'s rtt annotation follows the new measurement", time.Minute, func() (bool, string) {
			now := rttAnnotation(ctx, t, c, id)
			return now != before, now
		})
		reacted = append(reacted, time.Since(sent))
	}
	slices.Sort(reacted)
	fig.ReactionSamples = len(reacted)
	fig.ReactionP50Millis, fig.ReactionMaxMillis = benchout.Millis(quantile(reacted, 0.5)), benchout.Millis(reacted[len(reacted)-1])
	for _, d := range reacted {
		if d <= time.Second {
			fig.ReactionsWithin1s++
		}
	}

	// Memory and decision time with those caches.
	time.Sleep(5 * time.Second) // an observer resync over every peer
	m, err := scrape(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	peak, err := b.PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	fig.PeakRSSMiB, fig.RSSMiB = mib(peak), mib(int64(m["process_resident_memory_bytes"]))
	anon, file, err := b.RSSParts()
	if err != nil {
		t.Fatal(err)
	}
	fig.RSSAnonMiB, fig.RSSFileMiB = mib(anon), mib(file)
	fig.HeapAllocMiB, fig.HeapInuseMiB = mib(int64(m["go_memstats_heap_alloc_bytes"])), mib(int64(m["go_memstats_heap_inuse_bytes"]))
	// The live heap: what is left after a collection, which the heap profile forces.
	profile := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap?gc=1", pprofPort)
	if err := saveProfile(profile, os.Getenv("KUBEXR_PPROF_OUT")); err != nil {
		t.Fatal(err)
	}
	if m, err = scrape(metricsURL); err != nil {
		t.Fatal(err)
	}
	fig.LiveHeapMiB = mib(int64(m["go_memstats_heap_alloc_bytes"]))
	decisions, err := scrapeHistogram(metricsURL, "kubexr_decision_duration_seconds")
	if err != nil {
		t.Fatal(err)
	}
	if decisions.count < float64(pods) {
		t.Errorf("xr-webhook's decision histogram counts %.0f decisions, want at least %d", decisions.count, pods)
	}
	fig.DecisionP50Micros, fig.DecisionP99Micros = decisions.quantile(0.5)*1e6, decisions.quantile(0.99)*1e6

	table := fmt.Sprintf("| virtual nodes | pods | peak RSS MiB | RSS MiB (anon + file) | heap alloc MiB | heap in use MiB | live heap MiB | memory limit MiB | decision p50 µs | decision p99 µs | create p50 ms | create p99 ms | reaction p50 ms | reaction max ms | reactions ≤ 1 s |\n"+
		"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"+
		"| %d | %d | %.1f | %.1f (%.1f + %.1f) | %.1f | %.1f | %.1f | %.0f | ≤ %.0f | ≤ %.0f | %.1f | %.1f | %.0f | %.0f | %d of %d |\n",
		nodes, pods, fig.PeakRSSMiB, fig.RSSMiB, fig.RSSAnonMiB, fig.RSSFileMiB, fig.HeapAllocMiB, fig.HeapInuseMiB, fig.LiveHeapMiB, fig.MemoryLimitMiB, fig.DecisionP50Micros, fig.DecisionP99Micros,
		fig.CreateP50Millis, fig.CreateP99Millis, fig.ReactionP50Millis, fig.ReactionMaxMillis, fig.ReactionsWithin1s, fig.ReactionSamples)
	t.Logf("%s; inventory of %d peers ready %.1f s after start:\n%s", fig.Machine, nodes, fig.InventoryReadySecs, table)
	benchout.Write(t, fig, table)
}

// saveProfile fetches a pprof profile (forcing a collection with gc=1) and writes it to
// out, for `go tool pprof`; with no out it is fetched and dropped.
func saveProfile(url, out string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	w := io.Discard
	if out != "" {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	_, err = io.Copy(w, resp.Body)
	return err
}

func peerName(i int) string { return fmt.Sprintf("peer-%04d", i) }

func rttAnnotation(ctx context.Context, t *testing.T, c *sandbox.Cluster, node string) string {
	t.Helper()
	n := &corev1.Node{}
	if err := c.Client.Get(ctx, client.ObjectKey{Name: node}, n); err != nil {
		t.Fatal(err)
	}
	return n.Annotations[policy.AnnotationRTT]
}

// parallel calls do(0..n-1) from workers goroutines and fails the test on the first error.
func parallel(t *testing.T, workers, n int, do func(i int) error) {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := do(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// scrape reads the unlabelled samples of a Prometheus text exposition.
func scrape(url string) (map[string]float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

// histogram is a Prometheus histogram's cumulative buckets, summed over its labels.
type histogram struct {
	bounds []float64
	counts map[float64]float64
	count  float64
}

// quantile is the upper bound of the bucket holding the q-quantile (so "≤" in the table).
func (h histogram) quantile(q float64) float64 {
	for _, le := range h.bounds {
		if h.counts[le] >= q*h.count {
			return le
		}
	}
	return math.Inf(1)
}

func scrapeHistogram(url, name string) (histogram, error) {
	resp, err := http.Get(url)
	if err != nil {
		return histogram{}, err
	}
	defer resp.Body.Close()
	h := histogram{counts: map[float64]float64{}}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, name+"_bucket{"):
			i := strings.Index(line, `le="`)
			j := strings.Index(line[i+4:], `"`)
			if i < 0 || j < 0 {
				continue
			}
			le, err := strconv.ParseFloat(line[i+4:i+4+j], 64)
			v, err2 := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
			if err != nil || err2 != nil {
				continue
			}
			if _, seen := h.counts[le]; !seen {
				h.bounds = append(h.bounds, le)
			}
			h.counts[le] += v
		case strings.HasPrefix(line, name+"_count"):
			v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
			if err == nil {
				h.count += v
			}
		}
	}
	slices.Sort(h.bounds)
	return h, sc.Err()
}
