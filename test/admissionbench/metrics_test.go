package admissionbench

import (
	"math"
	"testing"
)

const exposition = `# HELP apiserver_admission_webhook_admission_duration_seconds x
# TYPE apiserver_admission_webhook_admission_duration_seconds histogram
apiserver_admission_webhook_admission_duration_seconds_bucket{name="a.example",operation="CREATE",le="0.005"} 90
apiserver_admission_webhook_admission_duration_seconds_bucket{name="a.example",operation="CREATE",le="0.025"} 99
apiserver_admission_webhook_admission_duration_seconds_bucket{name="a.example",operation="CREATE",le="+Inf"} 100
apiserver_admission_webhook_admission_duration_seconds_sum{name="a.example",operation="CREATE"} 0.3
apiserver_admission_webhook_admission_duration_seconds_count{name="a.example",operation="CREATE"} 100
apiserver_admission_webhook_admission_duration_seconds_bucket{name="a.example",operation="UPDATE",le="0.005"} 10
apiserver_admission_webhook_admission_duration_seconds_bucket{name="a.example",operation="UPDATE",le="0.025"} 10
apiserver_admission_webhook_admission_duration_seconds_bucket{name="a.example",operation="UPDATE",le="+Inf"} 10
apiserver_admission_webhook_admission_duration_seconds_sum{name="a.example",operation="UPDATE"} 0.01
apiserver_admission_webhook_admission_duration_seconds_count{name="a.example",operation="UPDATE"} 10
`

func TestHistogramsSumSeriesByLabelAndSubtractWindows(t *testing.T) {
	h, err := Histograms([]byte(exposition), APIServerWebhookName, "name")
	if err != nil {
		t.Fatal(err)
	}
	a := h["a.example"]
	if a.Count != 110 || a.MeanMillis() < 2.818 || a.MeanMillis() > 2.819 {
		t.Errorf("count %d mean %.4f ms; want 110 and 310 ms / 110 = 2.818 ms", a.Count, a.MeanMillis())
	}
	cases := []struct {
		q    float64
		want float64
	}{{0.5, 5}, {0.95, 25}, {1, math.Inf(1)}}
	for _, c := range cases {
		if got := a.QuantileBoundMillis(c.q); got != c.want {
			t.Errorf("q%.2f bound = %v ms, want %v", c.q, got, c.want)
		}
	}
	window := a.Since(Histogram{Count: 10, Sum: 0.01, counts: map[float64]uint64{0.005: 10, 0.025: 10}})
	if window.Count != 100 || window.QuantileBoundMillis(0.99) != 25 || window.QuantileBoundMillis(0.9) != 5 {
		t.Errorf("window: count %d, p99 ≤ %v, p90 ≤ %v; want 100, 25, 5", window.Count, window.QuantileBoundMillis(0.99), window.QuantileBoundMillis(0.9))
	}
	if got := (Histogram{}).MeanMillis(); got != 0 {
		t.Errorf("mean of nothing = %v, want 0 (valid JSON)", got)
	}
	if row := CallRow(1, "none.example", Histogram{}, "x"); row != "| 1 | none.example | 0 | — | — | — |\n" {
		t.Errorf("row for a webhook never called = %q", row)
	}
}
