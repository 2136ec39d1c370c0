package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubexr/kubectl-xr/policy"
)

func podRequest(t *testing.T, pod *corev1.Pod) admission.Request {
	t.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	return admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		Operation: admissionv1.Create, Namespace: "xr", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Object: runtime.RawExtension{Raw: raw},
	}}
}

// Before the observer's first snapshot no pod is admitted: a decision against an empty
// inventory would send hinted pods nowhere remote.
func TestNoAdmissionBeforeTheInventoryIsLoaded(t *testing.T) {
	p := &PodPlacer{
		Decoder: admission.NewDecoder(NewScheme()), Store: &Store{},
		Metrics: NewMetrics(prometheus.NewRegistry()), Clock: clock.RealClock{},
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: map[string]string{policy.AnnotationLatencyClass: "low"}}}
	resp := p.Handle(context.Background(), podRequest(t, pod))
	if resp.Allowed || resp.Result.Code != http.StatusServiceUnavailable || resp.Result.Message != errNotLoaded.Error() {
		t.Errorf("response = allowed %v, %d %q; want 503 %q", resp.Allowed, resp.Result.Code, resp.Result.Message, errNotLoaded)
	}
	w := &Webhook{Store: p.Store}
	if err := w.ready(nil); err == nil {
		t.Error("readyz passed with no inventory loaded")
	}
}

func TestPlacementEventText(t *testing.T) {
	cases := map[string]struct {
		record                         policy.Record
		wantType, wantReason, wantNote string
	}{
		"placed": {
			record: policy.Record{Class: "low", Bound: "20ms", Source: "deployment/stream", Placement: "any", Local: true,
				Eligible: []policy.RecordCluster{{ID: "edge-athens", RTT: "4ms"}}, More: 2},
			wantType: corev1.EventTypeNormal, wantReason: ReasonPlaced,
			wantNote: "class low, bound 20ms (from deployment/stream), placement any: may run on local nodes, edge-athens (4ms), 2 more",
		},
		"nothing within the bound": {
			record: policy.Record{Class: "ultra-low", Bound: "10ms", Source: "pod/render", Placement: "remote",
				Reason: "placement remote; no remote cluster within 10ms (nearest: edge-frankfurt at 14ms)"},
			wantType: corev1.EventTypeWarning, wantReason: ReasonNoEligibleCluster,
			wantNote: "class ultra-low, bound 10ms (from pod/render), placement remote: no cluster within the bound; " +
				"placement remote; no remote cluster within 10ms (nearest: edge-frankfurt at 14ms); the pod stays Pending until a cluster qualifies",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			typ, reason, note := placementEvent(tc.record)
			if typ != tc.wantType || reason != tc.wantReason || note != tc.wantNote {
				t.Errorf("got %s %s %q\nwant %s %s %q", typ, reason, note, tc.wantType, tc.wantReason, tc.wantNote)
			}
		})
	}
}
