package capipeer

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts peerings and unpeerings by result.
type Metrics struct {
	Peerings   *prometheus.CounterVec
	Unpeerings *prometheus.CounterVec
}

// NewMetrics registers the counters with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Peerings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubexr_capi_peerings_total",
			Help: "Peerings of Cluster API clusters attempted, by result (peered, failed).",
		}, []string{"result"}),
		Unpeerings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kubexr_capi_unpeerings_total",
			Help: "Unpeerings of Cluster API clusters, by result (unpeered: both sides; forgotten: the consumer's side of a cluster already gone; failed).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.Peerings, m.Unpeerings)
	return m
}
