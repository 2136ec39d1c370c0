package webhook

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// emptyCluster is a STAND-IN for the informer caches of a cluster holding nothing: every
// read is NotFound. The fuzzer below exercises the handler's own decode → evaluate →
// patch path; owners and namespaces are covered on real API servers elsewhere.
type emptyCluster struct{}

func (emptyCluster) Get(_ context.Context, key client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
	return apierrors.NewNotFound(schema.GroupResource{}, key.Name)
}

func (emptyCluster) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

// FuzzPodAdmission feeds arbitrary bytes as the pod of an AdmissionReview to the pod
// webhook: it never panics, and it answers either allowed (with patch operations on its
// own paths only) or refused with a status code and a message.
func FuzzPodAdmission(f *testing.F) {
	for _, seed := range []string{
		`{"metadata":{"name":"p","annotations":{"kubexr.io/latency-class":"low"}},"spec":{"containers":[{"name":"c","image":"i"}]}}`,
		`{"metadata":{"annotations":{"kubexr.io/max-rtt":"15ms","kubexr.io/placement":"remote"}},"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"kubexr.io/injected","operator":"Exists"}]}]}}}}}`,
		`{"metadata":{"annotations":{"kubexr.io/latency-class":"low"}},"spec":{"future":1,"tolerations":[{"key":"k","x":2}]}}`,
		`{"metadata":{"annotations":{"kubexr.io/max-rtt":"0ms"}}}`,
		`null`, `[]`, `{"spec":"x"}`, ``,
	} {
		f.Add([]byte(seed))
	}
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	store := NewStore()
	c := policy.Cluster{ID: "edge", Nodes: []string{"vk-edge"}}
	c.Link = policy.Tracker{}.Observe(policy.Sample{State: policy.LinkConnected, RTT: 5 * time.Millisecond, Valid: true, At: now},
		policy.DefaultSmoothing(), policy.MustDefaultClassSet())
	store.Publish(&Snapshot{Inventory: policy.NewInventory([]policy.Cluster{c}, policy.DefaultSmoothing()), Classes: policy.MustDefaultClassSet()})
	p := &PodPlacer{
		Decoder: admission.NewDecoder(NewScheme()), Store: store, Metrics: NewMetrics(prometheus.NewRegistry()),
		evaluator: evaluator{Meta: xrkube.MetadataReader{Reader: emptyCluster{}}, Cache: emptyCluster{}, Clock: clocktesting.NewFakePassiveClock(now)},
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		resp := p.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			UID: "u", Operation: admissionv1.Create, Namespace: "xr", Name: "p",
			Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Object: runtime.RawExtension{Raw: raw},
		}})
		if resp.Allowed {
			for _, op := range resp.Patches {
				if !ownPath(op.Path) {
					t.Fatalf("patch operation %s %s outside the webhook's own paths", op.Operation, op.Path)
				}
			}
			return
		}
		if resp.Result == nil || resp.Result.Message == "" {
			t.Fatalf("refused without a message: %+v", resp.AdmissionResponse)
		}
		switch resp.Result.Code {
		case http.StatusBadRequest, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusInternalServerError:
		default:
			t.Fatalf("refused with code %d: %s", resp.Result.Code, resp.Result.Message)
		}
	})
}
