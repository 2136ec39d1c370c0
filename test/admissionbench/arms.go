// Package admissionbench measures what admission webhooks add to pod creation through a
// real API server (BENCHMARKS.md §3): arms are namespaces whose labels decide which
// webhooks their pods meet, measured in interleaved rounds so that a noisy machine
// slows every arm alike.
package admissionbench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/benchout"
)

// Arm is one side of the comparison and, after Measure, its figures.
type Arm struct {
	Name string `json:"name"`
	// Namespace receives the arm's pods; its labels decide which webhooks apply.
	Namespace string `json:"-"`
	// WantDecision: every pod must come back with xr-webhook's decision.
	WantDecision bool `json:"-"`

	Pods       int     `json:"pods"`
	Failed     int     `json:"failed"`
	P50Millis  float64 `json:"p50Millis"`
	P99Millis  float64 `json:"p99Millis"`
	PodsPerSec float64 `json:"podsPerSecond"`

	busy      time.Duration
	latencies []time.Duration
}

// Measure creates rounds × perRound pods per arm with clients concurrent clients, the
// arms interleaved round by round, fills each arm's figures and returns every failure
// (a refused create, a pod of a WantDecision arm without a decision).
func Measure(ctx context.Context, cl client.Client, arms []*Arm, clients, rounds, perRound int, newPod func(ns, name string) *corev1.Pod) []error {
	var errs []error
	var mu sync.Mutex
	for r := range rounds {
		for _, arm := range arms {
			start := time.Now()
			inParallel(clients, perRound, func(k int) {
				pod := newPod(arm.Namespace, fmt.Sprintf("c%d-r%d-%d", clients, r, k))
				began := time.Now()
				err := cl.Create(ctx, pod)
				took := time.Since(began)
				mu.Lock()
				defer mu.Unlock()
				arm.Pods++
				switch {
				case err != nil:
					arm.Failed++
					errs = append(errs, fmt.Errorf("%s: create %s: %w", arm.Name, pod.Name, err))
				case arm.WantDecision && pod.Annotations[policy.AnnotationDecision] == "":
					errs = append(errs, fmt.Errorf("%s: pod %s carries no decision", arm.Name, pod.Name))
				default:
					arm.latencies = append(arm.latencies, took)
				}
			})
			arm.busy += time.Since(start)
		}
	}
	for _, arm := range arms {
		if len(arm.latencies) == 0 {
			errs = append(errs, fmt.Errorf("%s: no pod created", arm.Name))
			continue
		}
		slices.Sort(arm.latencies)
		arm.P50Millis = benchout.Millis(arm.latencies[len(arm.latencies)/2])
		arm.P99Millis = benchout.Millis(arm.latencies[len(arm.latencies)*99/100])
		arm.PodsPerSec = float64(len(arm.latencies)) / arm.busy.Seconds()
	}
	return errs
}

// TableHeader heads the rows Rows writes.
const TableHeader = "| clients | arm | pods | failed | p50 ms | p99 ms | pods/s | p50 ÷ a | p99 ÷ a | throughput ÷ a | p99 added ms |\n" +
	"|---|---|---|---|---|---|---|---|---|---|---|\n"

// Rows renders measured arms, each against the first (no webhook).
func Rows(clients int, arms []*Arm) string {
	var b strings.Builder
	base := arms[0]
	for _, arm := range arms {
		fmt.Fprintf(&b, "| %d | %s | %d | %d | %.2f | %.2f | %.0f | %.2f | %.2f | %.2f | %+.2f |\n", clients, arm.Name, arm.Pods, arm.Failed,
			arm.P50Millis, arm.P99Millis, arm.PodsPerSec, arm.P50Millis/base.P50Millis, arm.P99Millis/base.P99Millis,
			arm.PodsPerSec/base.PodsPerSec, arm.P99Millis-base.P99Millis)
	}
	return b.String()
}

func inParallel(workers, n int, do func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				do(int(i))
			}
		})
	}
	wg.Wait()
}

// CallsHeader heads the rows CallRow writes.
const CallsHeader = "| clients | webhook | calls | API server's mean ms | API server's p99 ms | served mean ms (p99) |\n|---|---|---|---|---|---|\n"

// CallRow renders one webhook's calls in a window: the API server's histogram of them
// and what the webhook's server said of its own time (served).
func CallRow(clients int, name string, api Histogram, served string) string {
	if api.Count == 0 {
		return fmt.Sprintf("| %d | %s | 0 | — | — | — |\n", clients, name)
	}
	return fmt.Sprintf("| %d | %s | %d | %.2f | ≤ %.0f | %s |\n", clients, name, api.Count, api.MeanMillis(), api.QuantileBoundMillis(0.99), served)
}
