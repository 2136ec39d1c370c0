package admissionbench

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// AllowAllName is the webhook the floor arm registers: it answers every pod CREATE
// "allowed" without looking at the pod, so what it adds is what any webhook costs on
// this machine — the API server's call, TLS on loopback, encoding the pod both ways.
const AllowAllName = "allow-all.bench.kubexr.io"

// AllowAll serves AllowAllName over TLS (Go's net/http and crypto/tls, the stack
// controller-runtime's webhook server uses) on a loopback port.
type AllowAll struct {
	server *httptest.Server
}

// StartAllowAll starts the server; Close stops it.
func StartAllowAll() *AllowAll {
	return &AllowAll{server: httptest.NewTLSServer(http.HandlerFunc(allowAll))}
}

// Close stops the server.
func (a *AllowAll) Close() { a.server.Close() }

func allowAll(w http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<20)).Decode(&review); err != nil || review.Request == nil {
		http.Error(w, "want an AdmissionReview", http.StatusBadRequest)
		return
	}
	review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
	review.Request = nil
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(&review)
}

// Register registers the webhook for pod CREATE in namespaces labelled
// nsLabel=true, failurePolicy Fail, as a mutating webhook (where the placement runs).
func (a *AllowAll) Register(ctx context.Context, cl client.Client, nsLabel string) error {
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.server.Certificate().Raw})
	return cl.Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-allow-all"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    AllowAllName,
			AdmissionReviewVersions: []string{"v1"},
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To(a.server.URL + "/allow"), CABundle: ca},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
			SideEffects:       ptr.To(admissionregistrationv1.SideEffectClassNone),
			FailurePolicy:     ptr.To(admissionregistrationv1.Fail),
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{nsLabel: "true"}},
		}},
	})
}
