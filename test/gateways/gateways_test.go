//go:build gateways

// Package gateways_test runs Liqo v1.2.0's real gateways (userspace WireGuard and the
// connection check, in network namespaces) between a consumer and two providers, with
// the harness's delay relay on the WireGuard underlay, and checks that the latency Liqo
// measures follows the injected delay and that xr-webhook's observer relabels the
// virtual nodes from those measurements.
//
// Not part of `make test` (build tag "gateways"; run it with `make test-gateways`): on
// the 2-core machines here, one gateway's reports sometimes run about 10 ms high for
// minutes (seen in 2 of 6 CI runs, cause not found), which fails the ±3 ms check.
package gateways_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
)

// tolerance is how far Liqo's measurement may be from the injected round trip: the
// relay's timers, WireGuard and the connection check add about a millisecond here.
const tolerance = 3 * time.Millisecond

// statusInterval is the connection check's --ping-update-status-interval (Liqo's default).
const statusInterval = sandbox.DefaultUpdateStatusInterval

func TestMain(m *testing.M) {
	// xr-webhook runs in this process; its logs would only bury the test's own lines.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

func TestRealGatewaysMeasureTheInjectedDelay(t *testing.T) {
	if err := sandbox.GatewaySupport(); err != nil {
		t.Skipf("skipped: %v", err)
	}
	ctx := context.Background()
	sb := sandbox.NewForTest(t)
	clusters, err := sb.StartClusters(ctx, sandbox.ClusterOptions{Name: "consumer", Liqo: true},
		sandbox.ClusterOptions{Name: "edge-athens", Liqo: true}, sandbox.ClusterOptions{Name: "cloud-geneva", Liqo: true})
	if err != nil {
		t.Fatal(err)
	}
	consumer, athens, geneva := clusters[0], clusters[1], clusters[2]

	// Both links up, each measured by Liqo's gateways over the relay.
	injected := map[string]time.Duration{athens.Name: 4 * time.Millisecond, geneva.Name: 30 * time.Millisecond}
	for _, p := range []*sandbox.Cluster{athens, geneva} {
		start := time.Now()
		if _, err := consumer.PeerWithGateways(ctx, p, sandbox.GatewayOptions{RTT: injected[p.Name]}); err != nil {
			t.Fatalf("peer %s with gateways: %v", p.Name, err)
		}
		t.Logf("peered %s with real gateways, second measurement after %s", p.Name, time.Since(start).Round(time.Millisecond))
	}
	// Each side's gateway measures the link. One report is one ping, and on a small
	// machine shared with four control planes a single PONG can be late by several
	// milliseconds; so five consecutive reports per side, read in parallel, and their
	// median is compared. The consumer's Connections are what placement reads and what
	// must match; the providers' own reports are logged.
	type side struct{ from, to *sandbox.Cluster }
	sides := []side{{consumer, athens}, {athens, consumer}, {consumer, geneva}, {geneva, consumer}}
	reports := make([][]time.Duration, len(sides))
	var wg sync.WaitGroup
	for i, sd := range sides {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i] = nextReports(t, ctx, sd.from, sd.to.Name, 5)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, sd := range sides {
		link := sd.from.Name + "→" + sd.to.Name
		want := injected[sd.to.Name] + injected[sd.from.Name] // one of them is the consumer: 0
		if sd.from != consumer {
			t.Logf("%s: injected %v, Liqo reported %v (median %v) on the provider", link, want, reports[i], median(reports[i]))
			continue
		}
		assertMedianNear(t, link, reports[i], want)
	}

	// The observer classifies the virtual nodes from the real measurements.
	run, err := xrwebhook.Start(ctx, sb, consumer, nil)
	if err != nil {
		t.Fatalf("start xr-webhook: %v", err)
	}
	t.Cleanup(run.Stop)
	waitClass(t, ctx, consumer, athens.Name, "ultra-low", time.Minute)
	waitClass(t, ctx, consumer, geneva.Name, "interactive", time.Minute)

	// A change of delay: Liqo's first report within two status intervals has moved to
	// the new delay's side, and the reports after it are within the tolerance of it.
	if err := consumer.SetRTT(athens.Name, 25*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	midway := (4*time.Millisecond + 25*time.Millisecond) / 2
	got := waitMeasurement(t, ctx, consumer, athens.Name, 2*statusInterval, func(s policy.Sample) bool {
		return s.State == policy.LinkConnected && s.Valid && s.RTT >= midway
	})
	t.Logf("athens 4→25 ms: Liqo reported %v after %s", got.RTT, time.Since(changed).Round(time.Millisecond))
	assertMedianNear(t, "consumer→edge-athens after the change", nextReports(t, ctx, consumer, athens.Name, 3), 25*time.Millisecond)
	// ... and the observer relabels the node once the smoothed RTT leaves ultra-low.
	waitClass(t, ctx, consumer, athens.Name, "interactive", 2*time.Minute)
	t.Logf("athens relabelled ultra-low→interactive %s after the change", time.Since(changed).Round(time.Millisecond))

	// A cut link: Error with N/A after the loss threshold, then back when restored.
	if err := consumer.Cut(geneva.Name); err != nil {
		t.Fatal(err)
	}
	cut := time.Now()
	lost := time.Duration(sandbox.DefaultPingLossThreshold+1) * sandbox.DefaultPingInterval
	got = waitMeasurement(t, ctx, consumer, geneva.Name, lost+2*statusInterval, func(s policy.Sample) bool {
		return s.State == policy.LinkError && !s.Valid
	})
	t.Logf("geneva cut: Liqo reported %s / N/A after %s", got.State, time.Since(cut).Round(time.Millisecond))
	waitClass(t, ctx, consumer, geneva.Name, "best-effort", time.Minute)
	if err := consumer.Restore(geneva.Name); err != nil {
		t.Fatal(err)
	}
	restored := time.Now()
	got = waitMeasurement(t, ctx, consumer, geneva.Name, 2*statusInterval, func(s policy.Sample) bool {
		return s.State == policy.LinkConnected && s.Valid
	})
	t.Logf("geneva restored: Liqo reported Connected %v after %s", got.RTT, time.Since(restored).Round(time.Millisecond))
	// The first report after a cut may include WireGuard's new handshake; then the link.
	assertMedianNear(t, "consumer→cloud-geneva after the restore", nextReports(t, ctx, consumer, geneva.Name, 3), 30*time.Millisecond)
	waitClass(t, ctx, consumer, geneva.Name, "interactive", time.Minute)

	// Unpeering stops the link's processes and removes its namespaces.
	if err := consumer.Unpeer(ctx, athens); err != nil {
		t.Fatal(err)
	}
	if _, err := consumer.Gateway(athens.Name); err == nil {
		t.Error("the gateway link to athens is still registered after unpeering")
	}
	sb.Stop()
	if left := leftovers(sb.Dir); len(left) > 0 {
		t.Errorf("left behind after Stop: %s", strings.Join(left, "; "))
	}
}

// assertMedianNear compares the median of reports with the injected round trip.
func assertMedianNear(t *testing.T, link string, reports []time.Duration, want time.Duration) {
	t.Helper()
	got := median(reports)
	t.Logf("%s: injected %v, Liqo reported %v (median %v)", link, want, reports, got)
	if d := got - want; d > tolerance || d < -tolerance {
		t.Errorf("%s: Liqo measured %v (median), injected %v: more than %v apart", link, got, want, tolerance)
	}
}

// nextReports collects the next n Connected reports of c's Connection to remote.
func nextReports(t *testing.T, ctx context.Context, c *sandbox.Cluster, remote string, n int) []time.Duration {
	t.Helper()
	var out []time.Duration
	for range n {
		rtt, err := measured(ctx, c, remote)
		if err != nil {
			t.Errorf("%s's Connection to %s: %v", c.Name, remote, err)
			return out
		}
		out = append(out, rtt)
	}
	return out
}

// sample reads c's Connection to remote as the observer would.
func sample(ctx context.Context, c *sandbox.Cluster, remote string) (policy.Sample, error) {
	conn := &networkingv1beta1.Connection{}
	key := client.ObjectKey{Namespace: sandbox.TenantNamespace(remote), Name: sandbox.ConnectionName(remote)}
	if err := c.Client.Get(ctx, key, conn); err != nil {
		return policy.Sample{}, err
	}
	return policy.SampleFromStatus(string(conn.Status.Value), conn.Status.Latency.Value, conn.Status.Latency.Timestamp.Time)
}

// measured waits for a fresh Connected measurement on c's Connection to remote.
func measured(ctx context.Context, c *sandbox.Cluster, remote string) (time.Duration, error) {
	conn, err := c.WaitConnectionMeasured(ctx, remote, 1)
	if err != nil {
		return 0, err
	}
	s, err := policy.SampleFromStatus(string(conn.Status.Value), conn.Status.Latency.Value, conn.Status.Latency.Timestamp.Time)
	return s.RTT, err
}

func median(ds []time.Duration) time.Duration {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

// waitMeasurement polls the consumer's Connection to remote until ok(sample) or within.
func waitMeasurement(t *testing.T, ctx context.Context, c *sandbox.Cluster, remote string, within time.Duration, ok func(policy.Sample) bool) policy.Sample {
	t.Helper()
	var last policy.Sample
	sandbox.Eventually(t, fmt.Sprintf("%s's Connection to %s", c.Name, remote), within, func() (bool, string) {
		s, err := sample(ctx, c, remote)
		if err != nil {
			return false, err.Error()
		}
		last = s
		return ok(s), fmt.Sprintf("status %s, latency %v (valid %t)", s.State, s.RTT, s.Valid)
	})
	return last
}

func waitClass(t *testing.T, ctx context.Context, c *sandbox.Cluster, node, class string, within time.Duration) {
	t.Helper()
	sandbox.Eventually(t, fmt.Sprintf("node %s labelled %s", node, class), within, func() (bool, string) {
		n := &corev1.Node{}
		if err := c.Client.Get(ctx, client.ObjectKey{Name: node}, n); err != nil {
			return false, err.Error()
		}
		got := n.Labels[policy.LabelLatencyClass]
		return got == class, fmt.Sprintf("label %q, rtt annotation %q", got, n.Annotations[policy.AnnotationRTT])
	})
}

// leftovers lists the harness's network namespaces of this process and any process
// whose command line names the sandbox folder.
func leftovers(dir string) []string {
	var left []string
	entries, _ := os.ReadDir("/run/netns")
	prefix := fmt.Sprintf("kubexr-%d-", os.Getpid())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			left = append(left, "network namespace "+e.Name())
		}
	}
	for _, p := range sandbox.ProcessesMentioning(dir) {
		left = append(left, "process "+p)
	}
	return left
}
