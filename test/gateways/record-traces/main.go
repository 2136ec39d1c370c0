// Command record-traces records what Liqo v1.2.0's real gateways report about links whose
// delay the harness injects, as CSV test data for the RTT estimator's replay
// (policy/testdata/gateway-traces, scored by policy's estimator replay test).
//
// A consumer peers with four providers through Liqo's real gateways over the delay relay
// (the make test-gateways machinery). Each link follows a schedule: steady at 4, 14, 25 and
// 38 ms for the first part, then steps across class bounds, cuts and restores, then steady
// again. Every report on both sides (the consumer's Connection to the provider and the
// provider's to the consumer) becomes one row, next to the delay injected when it was read:
//
//	time,link,side,injected_ms,status,latency
//	2026-12-04T14:40:10Z,edge-athens,consumer,4,Connected,5.12ms
//
// time is Liqo's status.latency.timestamp, or when the status was read for a status Liqo
// writes without one (a lost link: Error, N/A). injected_ms is "cut" while the relay drops
// the link's traffic. Rows of side "injector"
// (status and latency empty) record when the injected delay changed: the truth's timeline. Usage (root, /dev/net/tun,
// the binaries of make testbins; about 40 minutes):
//
//	source hack/testbins-env.sh && go run ./test/gateways/record-traces -out FILE
package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// step is one change of a link's injected delay at an offset from the recording's start;
// rtt 0 cuts the link, and a later step restores it at its rtt.
type step struct {
	at  time.Duration
	rtt time.Duration
}

const ms = time.Millisecond

// schedules: each link starts steady (18 minutes), then crosses class bounds (ultra-low
// 10 ms, low 20 ms, interactive 50 ms) both ways, is cut for longer and shorter than Liqo's
// loss threshold (5 pings × 2 s), and ends steady again (the last 6 minutes).
var schedules = []struct {
	provider string
	steps    []step
}{
	{"edge-athens", []step{{0, 4 * ms}, {18 * time.Minute, 14 * ms}, {21 * time.Minute, 4 * ms}, {24 * time.Minute, 25 * ms}, {27 * time.Minute, 4 * ms}}},
	{"edge-bologna", []step{{0, 14 * ms}, {19 * time.Minute, 25 * ms}, {22 * time.Minute, 14 * ms}, {25 * time.Minute, 8 * ms}, {28 * time.Minute, 14 * ms}}},
	{"cloud-cairo", []step{{0, 25 * ms}, {18*time.Minute + 30*time.Second, 14 * ms}, {21*time.Minute + 30*time.Second, 25 * ms}, {24*time.Minute + 30*time.Second, 55 * ms}, {27*time.Minute + 30*time.Second, 25 * ms}}},
	{"cloud-dakar", []step{{0, 38 * ms}, {19 * time.Minute, 0}, {20*time.Minute + 30*time.Second, 38 * ms}, {23 * time.Minute, 0}, {23*time.Minute + 6*time.Second, 38 * ms}, {26 * time.Minute, 14 * ms}, {28 * time.Minute, 0}, {29 * time.Minute, 14 * ms}, {31 * time.Minute, 38 * ms}}},
}

func main() {
	out := flag.String("out", "", "CSV file to write (required)")
	total := flag.Duration("duration", 36*time.Minute, "how long to record after the links are up")
	dir := flag.String("dir", "", "sandbox folder (default: a new temporary folder, removed at the end)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "record-traces: -out FILE is required (where to write the CSV)")
		os.Exit(2)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := record(ctx, *out, *dir, *total); err != nil {
		fmt.Fprintln(os.Stderr, "record-traces:", err)
		os.Exit(1)
	}
}

func record(ctx context.Context, out, dir string, total time.Duration) error {
	if err := sandbox.GatewaySupport(); err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	var sb *sandbox.Sandbox
	if dir == "" {
		var stop func()
		if sb, stop, err = sandbox.NewForMain("kubexr-traces-"); err != nil {
			return err
		}
		defer stop()
	} else {
		if sb, err = sandbox.New(dir); err != nil {
			return err
		}
		defer sb.Stop()
	}
	opts := []sandbox.ClusterOptions{{Name: "consumer", Liqo: true}}
	for _, s := range schedules {
		opts = append(opts, sandbox.ClusterOptions{Name: s.provider, Liqo: true})
	}
	clusters, err := sb.StartClusters(ctx, opts...)
	if err != nil {
		return err
	}
	consumer := clusters[0]
	for i, s := range schedules {
		if _, err := consumer.PeerWithGateways(ctx, clusters[i+1], sandbox.GatewayOptions{RTT: s.steps[0].rtt}); err != nil {
			return fmt.Errorf("peer %s with gateways: %w", s.provider, err)
		}
		fmt.Fprintf(os.Stderr, "%s peered with real gateways at %v\n", s.provider, s.steps[0].rtt)
	}

	w := &rows{w: csv.NewWriter(f)}
	if err := w.w.Write([]string{"time", "link", "side", "injected_ms", "status", "latency"}); err != nil {
		return err
	}
	start := time.Now()
	for _, s := range schedules { // the truth at the start, as the injector rows record each change
		if err := w.write([]string{start.UTC().Format(time.RFC3339Nano), s.provider, "injector", injectedMillis(s.steps[0].rtt), "", ""}); err != nil {
			return err
		}
	}
	rec, stop := context.WithDeadline(ctx, start.Add(total))
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 3*len(schedules))
	for i, s := range schedules {
		provider := clusters[i+1]
		in := &injected{rtt: s.steps[0].rtt}
		wg.Add(3)
		go func() { defer wg.Done(); errs <- follow(rec, consumer, provider.Name, s.steps, start, in, w) }()
		go func() {
			defer wg.Done()
			errs <- watch(rec, consumer, provider.Name, provider.Name, "consumer", in, w)
		}()
		go func() {
			defer wg.Done()
			errs <- watch(rec, provider, consumer.Name, provider.Name, "provider", in, w)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted after %s; %s holds what was recorded", time.Since(start).Round(time.Second), out)
	}
	w.w.Flush()
	fmt.Fprintf(os.Stderr, "recorded %d reports in %s to %s\n", w.n, time.Since(start).Round(time.Second), out)
	return w.w.Error()
}

// injected is a link's current injected delay (0: cut), set by follow, read by watch.
type injected struct {
	mu  sync.Mutex
	rtt time.Duration
}

func (in *injected) get() time.Duration {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.rtt
}

// follow applies a link's schedule.
func follow(ctx context.Context, consumer *sandbox.Cluster, provider string, steps []step, start time.Time, in *injected, w *rows) error {
	for _, s := range steps[1:] {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Until(start.Add(s.at))):
		}
		prev := in.get()
		var err error
		switch {
		case s.rtt == 0:
			err = consumer.Cut(provider)
		case prev == 0:
			if err = consumer.SetRTT(provider, s.rtt); err == nil {
				err = consumer.Restore(provider)
			}
		default:
			err = consumer.SetRTT(provider, s.rtt)
		}
		if err != nil {
			return fmt.Errorf("%s at %s: %w", provider, s.at, err)
		}
		in.mu.Lock()
		in.rtt = s.rtt
		in.mu.Unlock()
		if err := w.write([]string{time.Now().UTC().Format(time.RFC3339Nano), provider, "injector", injectedMillis(s.rtt), "", ""}); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "%s %s: injected %v (0 = cut)\n", time.Since(start).Round(time.Second), provider, s.rtt)
	}
	return nil
}

// injectedMillis is a delay as the CSV writes it: milliseconds, or "cut" for 0.
func injectedMillis(rtt time.Duration) string {
	if rtt == 0 {
		return "cut"
	}
	return strconv.FormatFloat(float64(rtt)/float64(time.Millisecond), 'f', -1, 64)
}

// rows serialises the watchers' rows.
type rows struct {
	mu sync.Mutex
	w  *csv.Writer
	n  int
}

func (r *rows) write(row []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if err := r.w.Write(row); err != nil {
		return err
	}
	r.w.Flush() // a row per report: an interrupted recording keeps what it saw
	return r.w.Error()
}

// watch polls c's Connection to remote and writes a row whenever Liqo's gateway writes a
// new status (a new latency timestamp, or a new value or latency).
func watch(ctx context.Context, c *sandbox.Cluster, remote, link, side string, in *injected, w *rows) error {
	key := client.ObjectKey{Namespace: sandbox.TenantNamespace(remote), Name: sandbox.ConnectionName(remote)}
	var last networkingv1beta1.ConnectionStatus
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		conn := &networkingv1beta1.Connection{}
		if err := c.Client.Get(ctx, key, conn); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Fprintf(os.Stderr, "%s %s: %v (retrying)\n", link, side, err)
			continue
		}
		st := conn.Status
		if st.Value == "" {
			continue // no report yet
		}
		if st.Value == last.Value && st.Latency.Value == last.Latency.Value && st.Latency.Timestamp.Equal(&last.Latency.Timestamp) {
			continue
		}
		last = st
		// Liqo writes Error with N/A and no timestamp (conncheck's disconnect observer passes
		// a zero time): such a report is stamped when it was read, as xr-webhook reads it.
		at := st.Latency.Timestamp.Time
		if at.IsZero() {
			at = time.Now()
		}
		row := []string{at.UTC().Format(time.RFC3339Nano), link, side, injectedMillis(in.get()), string(st.Value), st.Latency.Value}
		if err := w.write(row); err != nil {
			return err
		}
	}
}
