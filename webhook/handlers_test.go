package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
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
		Metrics: NewMetrics(prometheus.NewRegistry()), evaluator: evaluator{Clock: clock.RealClock{}},
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
	rs := &metav1.OwnerReference{Kind: "ReplicaSet", Name: "stream-5d9", Controller: ptr.To(true)}
	ds := &metav1.OwnerReference{Kind: "DaemonSet", Name: "agent", Controller: ptr.To(true)}
	stranded := policy.Record{Class: "ultra-low", Bound: "10ms", Source: "pod/render", Placement: "remote",
		Reason: "placement remote; no remote cluster within 10ms (nearest: edge-frankfurt at 14ms)"}
	strandedPrefix := "class ultra-low, bound 10ms (from pod/render), placement remote: no cluster within the bound; " +
		"placement remote; no remote cluster within 10ms (nearest: edge-frankfurt at 14ms); "
	cases := map[string]struct {
		record                         policy.Record
		owner                          *metav1.OwnerReference
		move                           string
		wantType, wantReason, wantNote string
	}{
		"placed": {
			record: policy.Record{Class: "low", Bound: "20ms", Source: "deployment/stream", Placement: "any", Local: true,
				Eligible: []policy.RecordCluster{{ID: "edge-athens", RTT: "4ms"}}, More: 2},
			wantType: corev1.EventTypeNormal, wantReason: ReasonPlaced,
			wantNote: "class low, bound 20ms (from deployment/stream), placement any: may run on local nodes, edge-athens (4ms), 2 more",
		},
		"nothing within the bound, a ReplicaSet's pod": {
			record: stranded, owner: rs,
			wantType: corev1.EventTypeWarning, wantReason: ReasonNoEligibleCluster,
			wantNote: strandedPrefix + "xr-webhook replaces the pod (its ReplicaSet recreates it) as soon as a cluster qualifies",
		},
		"nothing within the bound, opted out of moves": {
			record: stranded, owner: rs, move: "never",
			wantType: corev1.EventTypeWarning, wantReason: ReasonNoEligibleCluster,
			wantNote: strandedPrefix + "the pod stays Pending (kubexr.io/move: never): delete it once a cluster qualifies and its ReplicaSet recreates it",
		},
		"nothing within the bound, a bare pod": {
			record:   stranded,
			wantType: corev1.EventTypeWarning, wantReason: ReasonNoEligibleCluster,
			wantNote: strandedPrefix + "the pod stays Pending: delete and recreate it once a cluster qualifies (node affinity cannot change)",
		},
		"nothing within the bound, a DaemonSet's pod": {
			record: stranded, owner: ds,
			wantType: corev1.EventTypeWarning, wantReason: ReasonNoEligibleCluster,
			wantNote: strandedPrefix + "the pod stays Pending: delete and recreate it once a cluster qualifies (node affinity cannot change)",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			typ, reason, note := placementEvent(tc.record, strandedFate(tc.owner, tc.move))
			if typ != tc.wantType || reason != tc.wantReason || note != tc.wantNote {
				t.Errorf("got %s %s %q\nwant %s %s %q", typ, reason, note, tc.wantType, tc.wantReason, tc.wantNote)
			}
		})
	}
}

func TestToldOwnersTellsEachControllerEachDecisionOnce(t *testing.T) {
	var told toldOwners
	steps := []struct {
		uid, note string
		want      bool
	}{
		{"rs-1", "may run on athens", true},
		{"rs-1", "may run on athens", false},
		{"rs-2", "may run on athens", true},
		{"rs-1", "may run on athens, frankfurt", true},
		{"rs-1", "may run on athens", true},
	}
	for i, s := range steps {
		if got := told.first(types.UID(s.uid), s.note); got != s.want {
			t.Errorf("step %d: first(%s, %q) = %v, want %v", i, s.uid, s.note, got, s.want)
		}
	}
	for i := range maxToldOwners + 10 {
		told.first(types.UID(fmt.Sprint("many-", i)), "n")
	}
	if len(told.last) > maxToldOwners {
		t.Errorf("remembers %d controllers, want at most %d", len(told.last), maxToldOwners)
	}
}
