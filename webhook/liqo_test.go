package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	liqopod "github.com/liqotech/liqo/pkg/webhooks/pod"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/webhook"
)

// liqoPodPath serves Liqo v1.2.0's own pod webhook handler (pod.mutate.liqo.io) in the
// test's webhook server, so both webhooks mutate the same pods as in a real cluster.
const liqoPodPath = "/mutate/pod"

func serveLiqoWebhook(mgr ctrl.Manager) {
	mgr.GetWebhookServer().Register(liqoPodPath, liqopod.New(mgr.GetClient(), "liqo"))
}

// registerLiqoWebhook registers pod.mutate.liqo.io as Liqo's chart does (Pod CREATE in
// namespaces labelled liqo.io/scheduling-enabled, failurePolicy Fail, no reinvocation),
// restricted to namespaces labelled order. The API server calls mutating webhooks in
// the order of their configurations' names: Liqo's chart names it liqo-webhook, before
// xr-webhook; zz-liqo-webhook runs after it, so xr-webhook is reinvoked.
func registerLiqoWebhook(t *testing.T, name, order string) {
	t.Helper()
	cfg := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:                    "pod.mutate.liqo.io",
			AdmissionReviewVersions: []string{"v1", "v1beta1"},
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				URL:      ptr.To(fmt.Sprintf("https://127.0.0.1:%d%s", env.port, liqoPodPath)),
				CABundle: env.ca,
			},
			Rules: []admissionregistrationv1.RuleWithOperations{{
				Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
			}},
			SideEffects:   ptr.To(admissionregistrationv1.SideEffectClassNone),
			FailurePolicy: ptr.To(admissionregistrationv1.Fail),
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
				"liqo.io/scheduling-enabled": "true", "test.kubexr.io/liqo-order": order,
			}},
		}},
	}
	create(t, cfg)
	t.Cleanup(func() { _ = env.c.Client.Delete(context.Background(), cfg) })
}

func TestTogetherWithLiqosPodWebhookAndReinvoked(t *testing.T) {
	near, far := peer(t, "t6-near", 5*time.Millisecond), peer(t, "t6-far", 38*time.Millisecond)
	waitClass(t, near, "ultra-low")
	waitClass(t, far, "interactive")
	registerLiqoWebhook(t, "liqo-webhook", "before")
	registerLiqoWebhook(t, "zz-liqo-webhook", "after")
	time.Sleep(time.Second) // the API server picks up new webhook configurations asynchronously

	for order, wantCalls := range map[string]float64{"before": 1, "after": 2} {
		t.Run("liqo "+order+" xr-webhook", func(t *testing.T) {
			ns := "t6-" + order
			xrNamespace(t, ns, nil, "t6-near", "t6-far")
			nsObj := &corev1.Namespace{}
			nsObj.Name = ns
			patch := []byte(`{"metadata":{"labels":{"liqo.io/scheduling-enabled":"true","test.kubexr.io/liqo-order":"` + order + `"}}}`)
			if err := env.c.Client.Patch(context.Background(), nsObj, client.RawPatch(types.MergePatchType, patch)); err != nil {
				t.Fatal(err)
			}
			before := admissions(t)
			create(t, barePod(ns, "stream", map[string]string{policy.AnnotationLatencyClass: "low"}))
			pod := getPod(t, ns, "stream")
			if got := placement(t, &pod, near, far); !cmp.Equal(got, []string{"local", near}) {
				t.Errorf("pod may run on %v, want local and %s only", got, near)
			}
			if calls := admissions(t) - before; calls != wantCalls {
				t.Errorf("xr-webhook called %v times, want %v", calls, wantCalls)
			}
			// Admitting the admitted pod again changes nothing.
			if patches := admitAgain(t, &pod); len(patches) != 0 {
				t.Errorf("second admission of the same pod patched it: %s", patches)
			}
		})
	}
}

// admitAgain sends the pod to xr-webhook as the API server would on reinvocation, over
// TLS, and returns the JSON patch of the response.
func admitAgain(t *testing.T, pod *corev1.Pod) string {
	t.Helper()
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "again", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Namespace: pod.Namespace, Name: pod.Name, Operation: admissionv1.Create,
			Object: runtime.RawExtension{Raw: raw},
		},
	}
	body, _ := json.Marshal(review)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(env.ca)
	httpc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	resp, err := httpc.Post(fmt.Sprintf("https://127.0.0.1:%d%s", env.port, webhook.MutatePodPath), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.Response == nil || !out.Response.Allowed {
		t.Fatalf("second admission not allowed: %+v", out.Response)
	}
	return string(out.Response.Patch)
}
