package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
)

// expectedClass is the class each provider's link earns at its injected RTT.
var expectedClass = map[string]string{"edge-athens": "ultra-low", "edge-frankfurt": "low", "cloud-geneva": "interactive"}

func (s *scenario) peer(ctx context.Context) error {
	for _, p := range providers {
		// Networking disabled: Liqo's gateways cannot be deployed as pods here; the
		// sandbox runs the same gateway binaries as processes for this peering below.
		if _, err := s.kubectl(ctx, "xr", "peer", "add", "--remote-kubeconfig", s.st.Kubeconfigs[p.Name], "--networking-disabled"); err != nil {
			return err
		}
	}
	s.say("connecting the links (injected round trips: %v, %v, %v)", providers[0].RTT, providers[1].RTT, providers[2].RTT)
	var wg sync.WaitGroup
	errs := make([]error, len(providers))
	for i, p := range providers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.network(ctx, "connect", p.Name, p.RTT)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, p := range providers {
		value, latency := s.connection(ctx, p.Name)
		s.say("%-15s injected %-5v Liqo's Connection: %s %s", p.Name, p.RTT, value, latency)
	}
	if err := s.waitClasses(ctx, providers, 90*time.Second); err != nil {
		return err
	}
	s.say("xr-webhook's observer labelled every virtual node from those measurements")
	_, err := s.kubectl(ctx, "xr", "peer", "list")
	return err
}

// waitClasses waits until each provider's virtual node carries its expected class.
func (s *scenario) waitClasses(ctx context.Context, ps []provider, timeout time.Duration) error {
	for _, p := range ps {
		want := expectedClass[p.Name]
		if err := waitFor(ctx, p.Name+" labelled "+want, timeout, func() (bool, string) {
			class, rtt := s.nodeClass(ctx, p.Name)
			return class == want, fmt.Sprintf("class %q rtt %q", class, rtt)
		}); err != nil {
			return err
		}
	}
	return nil
}

func (s *scenario) deploy(ctx context.Context) error {
	if _, err := s.kubectl(ctx, "create", "namespace", demoNamespace); err != nil {
		return err
	}
	if _, err := s.kubectl(ctx, "xr", "offload", demoNamespace, "--class", "low"); err != nil {
		return err
	}
	app := filepath.Join(s.dir, "xr-app.yaml")
	if err := os.WriteFile(app, xrApp, 0o600); err != nil {
		return err
	}
	if _, err := s.kubectl(ctx, "apply", "-f", app); err != nil {
		return err
	}
	return s.waitSettled(ctx)
}

// expectedPods are the application's pods by app label.
var expectedPods = map[string]int{"render": 2, "stream": 2, "client": 2, "analytics": 2}

// waitSettled waits until the namespace holds exactly the expected pods, all Running or
// Succeeded and none terminating.
func (s *scenario) waitSettled(ctx context.Context) error {
	start := time.Now()
	err := waitFor(ctx, "the application's pods running", 3*time.Minute, func() (bool, string) { return s.settled(ctx) })
	if err == nil {
		total := 0
		for _, n := range expectedPods {
			total += n
		}
		s.say("all %d pods running after %s", total, time.Since(start).Round(100*time.Millisecond))
	}
	return err
}

// settled: exactly the expected pods, all Running or Succeeded, none terminating.
func (s *scenario) settled(ctx context.Context) (bool, string) {
	pods, err := s.pods(ctx)
	if err != nil {
		return false, err.Error()
	}
	got := map[string]int{}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			return false, "pod " + p.Name + " terminating"
		}
		if p.Status.Phase != corev1.PodRunning && p.Status.Phase != corev1.PodSucceeded {
			return false, fmt.Sprintf("pod %s %s", p.Name, p.Status.Phase)
		}
		got[p.Labels["app"]]++
	}
	for app, n := range expectedPods {
		if got[app] != n {
			return false, fmt.Sprintf("%d %s pods running, want %d", got[app], app, n)
		}
	}
	return true, ""
}

func (s *scenario) pods(ctx context.Context) ([]corev1.Pod, error) {
	var list corev1.PodList
	if err := s.kube.List(ctx, &list, client.InNamespace(demoNamespace)); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// show prints the placement: explain for one component, the pods, the table.
func (s *scenario) show(ctx context.Context, explain string) error {
	if _, err := s.kubectl(ctx, "xr", "explain", explain, "-n", demoNamespace); err != nil {
		return err
	}
	if _, err := s.kubectl(ctx, "get", "pods", "-n", demoNamespace, "-o", "wide"); err != nil {
		return err
	}
	rows, err := s.rows(ctx)
	if err != nil {
		return err
	}
	printSummary(s.out, rows)
	return nil
}

// framesBack is a client's report of frames that came back from a render pod.
var framesBack = regexp.MustCompile(`client: to \S+: \d+ poses sent, [1-9]\d* frames back, round trip p50 \S+ p99 \S+`)

// showRoundTrips shows, on real nodes, what the local components do: the client's UDP
// poses to each render pod and the frames that came back, with their round trips.
func (s *scenario) showRoundTrips(ctx context.Context) error {
	if s.st.Nodes != "real" {
		return nil
	}
	err := waitFor(ctx, "the client's round trips to render's pods", 90*time.Second, func() (bool, string) {
		out, err := s.quietKubectl(ctx, "logs", "deploy/client", "-n", demoNamespace, "--tail", "2")
		return err == nil && len(framesBack.FindAllString(out, -1)) == expectedPods["render"], out
	})
	if err != nil {
		return err
	}
	s.say("render and client run as real containers on the consumer's real nodes; the client's last reports (UDP poses out, frames back):")
	_, err = s.kubectl(ctx, "logs", "deploy/client", "-n", demoNamespace, "--tail", "2")
	return err
}

func (s *scenario) rows(ctx context.Context) ([]row, error) {
	pods, err := s.pods(ctx)
	if err != nil {
		return nil, err
	}
	var nodes corev1.NodeList
	if err := s.kube.List(ctx, &nodes); err != nil {
		return nil, err
	}
	return summarize(pods, nodes.Items), nil
}

func (s *scenario) degrade(ctx context.Context) error {
	_, before := s.connection(ctx, degradedPeer)
	if err := s.network(ctx, "rtt", degradedPeer, degradedRTT); err != nil {
		return err
	}
	changed := time.Now()
	s.say("%s: injected round trip %v → %v", degradedPeer, providers[0].RTT, degradedRTT)
	floor := degradedRTT - 2*time.Millisecond
	if err := waitFor(ctx, "Liqo's measurement of "+degradedPeer+" to follow", time.Minute, func() (bool, string) {
		value, latency := s.connection(ctx, degradedPeer)
		rtt, ok, err := policy.ParseLiqoLatency(latency)
		return err == nil && ok && value == "Connected" && rtt >= floor, value + " " + latency
	}); err != nil {
		return err
	}
	_, after := s.connection(ctx, degradedPeer)
	s.say("Liqo's Connection to %s: %s → %s after %s", degradedPeer, before, after, time.Since(changed).Round(100*time.Millisecond))

	// The observer smooths (EWMA): the label walks down class by class.
	last := expectedClass[degradedPeer]
	if err := waitFor(ctx, degradedPeer+" relabelled interactive", 2*time.Minute, func() (bool, string) {
		class, rtt := s.nodeClass(ctx, degradedPeer)
		if class != last {
			s.say("observer: %s %s → %s (smoothed RTT %s)", degradedPeer, last, class, rtt)
			last = class
		}
		return class == "interactive", fmt.Sprintf("class %q rtt %q", class, rtt)
	}); err != nil {
		return err
	}
	// The other links keep their classes; a single late ping can lift a smoothed RTT over
	// a bound for a few samples, and the restarted pods need edge-frankfurt's "low".
	if err := s.waitClasses(ctx, providers[1:], time.Minute); err != nil {
		return err
	}
	if _, err := s.kubectl(ctx, "get", "nodes", "-L", policy.LabelLatencyClass); err != nil {
		return err
	}
	s.say("nobody restarts anything: xr-webhook's mover evicts the pods whose cluster left their bound (after their move delay, one per workload at a time) and the pod webhook places the replacements")
	if err := waitFor(ctx, "every pod back within its bound", 3*time.Minute, func() (bool, string) {
		return s.recovered(ctx)
	}); err != nil {
		return err
	}
	s.recovery = time.Since(changed)
	s.say("time to recover: %s (from the injected change to every pod running within its bound)", s.recovery.Round(100*time.Millisecond))
	_, err := s.kubectl(ctx, "get", "events", "-n", demoNamespace, "--field-selector", "reason="+moveReason, "--sort-by=.lastTimestamp",
		"-o", "custom-columns=OBJECT:.involvedObject.name,REASON:.reason,MESSAGE:.message")
	return err
}

// moveReason is the Event reason of the mover's moves (webhook.ReasonMoving).
const moveReason = "XRMoving"

// recovered: the namespace holds exactly the expected pods, all Running or Succeeded,
// none terminating, and every one within its bound.
func (s *scenario) recovered(ctx context.Context) (bool, string) {
	if ok, why := s.settled(ctx); !ok {
		return false, why
	}
	rows, err := s.rows(ctx)
	if err != nil {
		return false, err.Error()
	}
	for _, r := range rows {
		if !r.Within {
			return false, r.Pod + ": " + r.Why
		}
	}
	return true, ""
}

func (s *scenario) finalSummary(ctx context.Context) error {
	s.act(6, "Summary")
	if _, err := s.kubectl(ctx, "get", "pods", "-n", demoNamespace, "-o", "wide"); err != nil {
		return err
	}
	rows, err := s.rows(ctx)
	if err != nil {
		return err
	}
	bad := printSummary(s.out, rows)
	if s.recovery > 0 {
		fmt.Fprintf(s.out, "\nTime to recover after %s degraded: %s (no manual restart; xr-webhook's mover moved the pods).\n",
			degradedPeer, s.recovery.Round(100*time.Millisecond))
	}
	if s.st.Nodes == "real" {
		fmt.Fprintln(s.out, "\nSimulated here: the clusters are local control planes on one machine; the providers have no kubelets")
		fmt.Fprintln(s.out, "(kwok runs the pods offloaded to them, which run no container),")
	} else {
		fmt.Fprintln(s.out, "\nSimulated here: the clusters are local control planes on one machine without kubelets (kwok runs the pods),")
	}
	real := "Real: Liqo's peering, virtual nodes and offloading"
	if s.st.Mode == "gateways" {
		fmt.Fprintln(s.out, "and the wide-area distance is a delay injected on the gateways' WireGuard underlay.")
		real = "Real: Liqo's peering, virtual nodes, offloading and latency measurement"
	} else {
		fmt.Fprintln(s.out, "and the latencies are written into Liqo's Connections by the sandbox (stand-in: "+s.st.Why+").")
	}
	if s.st.Nodes == "real" {
		fmt.Fprintln(s.out, real+"; kube-scheduler; the consumer's 2 nodes (kubelet, containerd, runc)")
		fmt.Fprintln(s.out, "running xr-webhook's Pods (kubectl xr install) and the local components render and client, which exchange UDP.")
	} else {
		fmt.Fprintln(s.out, real+"; kube-scheduler; xr-webhook (as a process).")
	}
	s.say("done")
	if bad > 0 {
		return fmt.Errorf("%d of %d pods are not within their latency bound", bad, len(rows))
	}
	fmt.Fprintf(s.out, "All %d pods landed within their latency bound.\n", len(rows))
	return nil
}
