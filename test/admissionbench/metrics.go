package admissionbench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Histogram is a Prometheus histogram summed over the series that match a label, as
// cumulative bucket counts by upper bound.
type Histogram struct {
	Count  uint64
	Sum    float64
	bounds []float64
	counts map[float64]uint64
}

// Since is h minus an earlier scrape of the same series (a window of the run).
func (h Histogram) Since(before Histogram) Histogram {
	d := Histogram{Count: h.Count - before.Count, Sum: h.Sum - before.Sum, bounds: h.bounds, counts: map[float64]uint64{}}
	for _, le := range h.bounds {
		d.counts[le] = h.counts[le] - before.counts[le]
	}
	return d
}

// MeanMillis is the mean observation in milliseconds (0 when there is none, so the
// figures stay valid JSON).
func (h Histogram) MeanMillis() float64 {
	if h.Count == 0 {
		return 0
	}
	return h.Sum / float64(h.Count) * 1000
}

// QuantileBoundMillis is the upper bound, in milliseconds, of the bucket holding the
// q-quantile: the quantile is at most this (the tables print "≤").
func (h Histogram) QuantileBoundMillis(q float64) float64 {
	for _, le := range h.bounds {
		if float64(h.counts[le]) >= q*float64(h.Count) {
			return le * 1000
		}
	}
	return math.Inf(1)
}

// Histograms parses a Prometheus text exposition and sums the histogram family name by
// the value of label (series without it are ignored).
func Histograms(exposition []byte, name, label string) (map[string]Histogram, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(exposition))
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return byLabel(families[name], label), nil
}

// Gathered is Histograms for a registry in this process.
func Gathered(g prometheus.Gatherer, name, label string) (map[string]Histogram, error) {
	families, err := g.Gather()
	if err != nil {
		return nil, err
	}
	for _, f := range families {
		if f.GetName() == name {
			return byLabel(f, label), nil
		}
	}
	return map[string]Histogram{}, nil
}

func byLabel(family *dto.MetricFamily, label string) map[string]Histogram {
	out := map[string]Histogram{}
	for _, m := range family.GetMetric() {
		key, ok := labelValue(m, label)
		if !ok || m.GetHistogram() == nil {
			continue
		}
		h, seen := out[key]
		if !seen {
			h = Histogram{counts: map[float64]uint64{}}
		}
		hist := m.GetHistogram()
		h.Count += hist.GetSampleCount()
		h.Sum += hist.GetSampleSum()
		for _, b := range hist.GetBucket() {
			le := b.GetUpperBound()
			if _, known := h.counts[le]; !known {
				h.bounds = append(h.bounds, le)
			}
			h.counts[le] += b.GetCumulativeCount()
		}
		slices.Sort(h.bounds)
		out[key] = h
	}
	return out
}

func labelValue(m *dto.Metric, name string) (string, bool) {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue(), true
		}
	}
	return "", false
}

// APIServerWebhookName is the API server's histogram of each admission webhook call
// (as the API server sees it: connection, TLS, encoding and the webhook's answer).
const APIServerWebhookName = "apiserver_admission_webhook_admission_duration_seconds"

// APIServerWebhooks scrapes the API server's webhook call durations by webhook name.
func APIServerWebhooks(ctx context.Context, cfg *rest.Config) (map[string]Histogram, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	raw, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the API server's metrics: %w", err)
	}
	return Histograms(raw, APIServerWebhookName, "name")
}

// ServedName is controller-runtime's histogram of each webhook request its server
// handles (decoding, the handler, encoding; not TLS or the connection).
const ServedName = "controller_runtime_webhook_latency_seconds"

// ServedWebhooks scrapes a controller-runtime metrics endpoint's webhook durations by
// path.
func ServedWebhooks(url string) (map[string]Histogram, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	return Histograms(raw, ServedName, "webhook")
}
