package webhook

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are xr-webhook's Prometheus series.
type Metrics struct {
	// Admissions counts pod admissions by result (placed, no-eligible, untouched,
	// denied, error) and class ("" when the hint has none).
	Admissions *prometheus.CounterVec
	// Validations counts hint validations by result (allowed, denied).
	Validations *prometheus.CounterVec
	// DecisionSeconds is the time from decoded pod to patch, in seconds.
	DecisionSeconds prometheus.Histogram
	// InventoryClusters is the number of peered clusters in the snapshot.
	InventoryClusters prometheus.Gauge
	// ClusterRTTSeconds is each cluster's smoothed RTT (absent while unknown).
	ClusterRTTSeconds *prometheus.GaugeVec
	// ClusterClass is 1 for the class each cluster's virtual nodes are labelled with.
	ClusterClass *prometheus.GaugeVec
	// Moves counts pods the mover evicted or replaced, by reason (over-bound,
	// link-unhealthy, node-not-ready, not-peered, stranded).
	Moves *prometheus.CounterVec
	// MovesBlocked counts moves refused, once per pod and reason in a row (pdb,
	// no-controller, nothing-eligible, rate-limit).
	MovesBlocked *prometheus.CounterVec
}

// NewMetrics creates the series and registers them with reg. Registering twice in one
// process (tests start several managers) reuses the series already registered.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Admissions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubexr_pod_admissions_total",
			Help: "Pod admissions by result and latency class.",
		}, []string{"result", "class"}),
		Validations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubexr_hint_validations_total",
			Help: "Hint validations of workloads, pods and namespaces by result.",
		}, []string{"result"}),
		DecisionSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kubexr_decision_duration_seconds",
			Help: "Time to decide and patch one pod.",
			// 10µs .. ~82ms: decisions take microseconds; the upper buckets catch trouble.
			Buckets: prometheus.ExponentialBuckets(10e-6, 2, 14),
		}),
		InventoryClusters: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kubexr_inventory_clusters",
			Help: "Peered clusters in the decision inventory.",
		}),
		ClusterRTTSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kubexr_cluster_rtt_seconds",
			Help: "Smoothed round-trip time to each peered cluster.",
		}, []string{"cluster"}),
		ClusterClass: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kubexr_cluster_latency_class",
			Help: "1 for the latency class each peered cluster currently meets.",
		}, []string{"cluster", "class"}),
		Moves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubexr_moves_total",
			Help: "Pods moved off a cluster that left their bound, or replaced after admission with no eligible cluster, by reason.",
		}, []string{"reason"}),
		MovesBlocked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubexr_moves_blocked_total",
			Help: "Moves refused (PodDisruptionBudget, no controller, nothing eligible, rate limit), once per pod and reason.",
		}, []string{"reason"}),
	}
	m.Admissions = register(reg, m.Admissions)
	m.Validations = register(reg, m.Validations)
	m.DecisionSeconds = register(reg, m.DecisionSeconds)
	m.InventoryClusters = register(reg, m.InventoryClusters)
	m.ClusterRTTSeconds = register(reg, m.ClusterRTTSeconds)
	m.ClusterClass = register(reg, m.ClusterClass)
	m.Moves = register(reg, m.Moves)
	m.MovesBlocked = register(reg, m.MovesBlocked)
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err) // a programmer error: two different series with one name
	}
	return c
}
