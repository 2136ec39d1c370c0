package webhook_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	xrv1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/webhook"
)

// A newer API server may send fields this build's Pod type does not know, also inside
// the affinity and tolerations xr-webhook rewrites. The AdmissionReview is posted to
// the running xr-webhook as the API server would; no patch operation may remove them.
func TestPatchNeverRemovesFieldsThisBuildDoesNotKnow(t *testing.T) {
	xrNamespace(t, "t15-unknown", nil)
	pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"future","namespace":"t15-unknown",
	  "annotations":{"kubexr.io/latency-class":"low"}},
	 "spec":{"futureSpecField":{"a":1},
	  "containers":[{"name":"c","image":"xr/render","futureContainerField":true}],
	  "tolerations":[{"key":"gpu","operator":"Exists","futureTolerationField":"x"}],
	  "affinity":{"futureAffinityField":1,"nodeAffinity":{"futureNodeAffinityField":"y",
	    "requiredDuringSchedulingIgnoredDuringExecution":{"futureSelectorField":2,"nodeSelectorTerms":[
	      {"futureTermField":3,"matchExpressions":[{"key":"zone","operator":"In","values":["edge"],"futureExprField":4}]}]}}}}}`
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "u-1", Operation: admissionv1.Create, Namespace: "t15-unknown", Name: "future",
			Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Resource: metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
			Object: runtime.RawExtension{Raw: []byte(pod)}},
	}
	resp := postReview(t, webhook.MutatePodPath, review)
	if !resp.Allowed || resp.PatchType == nil {
		t.Fatalf("response: allowed %v, result %+v; want an allowed patch", resp.Allowed, resp.Result)
	}
	var ops []struct{ Op, Path string }
	if err := json.Unmarshal(resp.Patch, &ops); err != nil {
		t.Fatal(err)
	}
	if len(ops) == 0 {
		t.Fatal("no patch operations: the pod was not placed")
	}
	for _, op := range ops {
		if op.Op == "remove" || strings.Contains(op.Path, "future") {
			t.Errorf("patch operation %s %s touches a field this build does not know", op.Op, op.Path)
		}
	}
}

func postReview(t *testing.T, path string, review admissionv1.AdmissionReview) *admissionv1.AdmissionResponse {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(env.ca)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	body, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	r, err := hc.Post(fmt.Sprintf("https://127.0.0.1:%d%s", env.port, path), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	raw, _ := io.ReadAll(r.Body)
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(raw, &out); err != nil || out.Response == nil {
		t.Fatalf("response %d %s: %v", r.StatusCode, raw, err)
	}
	return out.Response
}

// podWithTerms is a hinted pod whose own required node affinity has n terms.
func podWithTerms(ns, name string, n int, extra ...corev1.NodeSelectorRequirement) *corev1.Pod {
	pod := barePod(ns, name, map[string]string{policy.AnnotationLatencyClass: "low"})
	terms := make([]corev1.NodeSelectorTerm, n)
	for i := range terms {
		terms[i].MatchExpressions = append([]corev1.NodeSelectorRequirement{
			{Key: "topology.kubernetes.io/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{fmt.Sprintf("zone-%d", i)}}}, extra...)
	}
	pod.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: terms}}}
	return pod
}

// A user's expression on the reserved key kubexr.io/injected would be stripped as if
// xr-webhook had injected it: it is refused, at apply time for a hinted workload and at
// pod creation, as the API server's own validation refuses a field (422, the field named).
func TestTheReservedKeyIsRefusedInUserTerms(t *testing.T) {
	xrNamespace(t, "t15-reserved", nil)
	ctx := context.Background()
	own := corev1.NodeSelectorRequirement{Key: policy.InjectedKey, Operator: corev1.NodeSelectorOpExists}
	want := `spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[1].key: ` +
		`Invalid value: "kubexr.io/injected": kubexr.io/injected is reserved for the placement xr-webhook injects; use a label of your own`
	err := env.c.Client.Create(ctx, podWithTerms("t15-reserved", "mine", 1, own))
	if err == nil || !strings.Contains(err.Error(), "pod/mine: "+want) {
		t.Errorf("pod with the reserved key: %v\nwant it denied with:\n%s", err, want)
	}
	dep := deployment("t15-reserved", "mine", 1, map[string]string{policy.AnnotationLatencyClass: "low"}, nil)
	dep.Spec.Template.Spec.Affinity = podWithTerms("", "", 1, own).Spec.Affinity
	err = env.c.Client.Create(ctx, dep)
	if err == nil || !strings.Contains(err.Error(), `denied the request: spec.template.`+want) {
		t.Errorf("hinted Deployment with the reserved key: %v\nwant it denied at apply time with:\n%s", err, "spec.template."+want)
	}
}

// A pod with 5 000 required terms (Apply used to take seconds on such a pod, inside the
// webhook's 2 s timeout) is answered by its count alone, while ordinary hinted pods
// keep being admitted around it. Latencies are logged, not asserted (see make bench).
func TestAPodWithThousandsOfTermsIsRefusedAndOthersKeepFlowing(t *testing.T) {
	xrNamespace(t, "t15-hostile", nil)
	ctx := context.Background()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  []string
		wg        sync.WaitGroup
	)
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // 20 ordinary hinted pods a second
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				start := time.Now()
				err := env.c.Client.Create(ctx, barePod("t15-hostile", fmt.Sprintf("ordinary-%d", i), map[string]string{policy.AnnotationLatencyClass: "low"}))
				mu.Lock()
				defer mu.Unlock()
				latencies = append(latencies, time.Since(start))
				if err != nil {
					failures = append(failures, err.Error())
				}
			}(i)
		}
	}()
	time.Sleep(time.Second)
	start := time.Now()
	err := env.c.Client.Create(ctx, podWithTerms("t15-hostile", "hostile", 5000))
	hostile := time.Since(start)
	want := "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Too many: 5000: must have at most 100 items"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("pod with 5000 terms: %v\nwant it denied with %q", err, want)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of %d ordinary hinted pods failed while the hostile pod was judged, e.g. %s", len(failures), len(latencies), failures[0])
	}
	slices.Sort(latencies)
	t.Logf("hostile pod answered in %s; %d ordinary creates: p50 %s, max %s", hostile.Round(time.Millisecond), len(latencies),
		latencies[len(latencies)/2].Round(time.Millisecond), latencies[len(latencies)-1].Round(time.Millisecond))
}

// Every LatencyClass malformed (valid for the CRD, unusable for the policy) behaves as no
// LatencyClass at all: the default classes apply, and each malformed class gets a
// Warning Event saying so — instead of every class hint being denied as unknown.
func TestEveryLatencyClassMalformedFallsBackToTheDefaults(t *testing.T) {
	ctx := context.Background()
	var saved xrv1.LatencyClassList
	if err := env.c.Client.List(ctx, &saved); err != nil {
		t.Fatal(err)
	}
	restore := func() {
		for _, lc := range saved.Items {
			lc := lc
			lc.ResourceVersion, lc.UID, lc.CreationTimestamp, lc.ManagedFields = "", "", metav1.Time{}, nil
			if err := env.c.Client.Create(ctx, &lc); err != nil {
				t.Errorf("restore LatencyClass %s: %v", lc.Name, err)
			}
		}
	}
	for i := range saved.Items {
		if err := env.c.Client.Delete(ctx, &saved.Items[i]); err != nil {
			t.Fatal(err)
		}
	}
	zero := &xrv1.LatencyClass{ObjectMeta: metav1.ObjectMeta{Name: "t15-zero"}, Spec: xrv1.LatencyClassSpec{MaxRTT: "0ms"}}
	if err := env.c.Client.Create(ctx, zero); err != nil {
		restore()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.c.Client.Delete(ctx, zero)
		restore()
	})
	xrNamespace(t, "t15-classes", nil)
	eventually(t, "a Warning Event on the malformed class", func() (bool, string) {
		var evs corev1.EventList
		if err := env.c.Client.List(ctx, &evs, client.InNamespace("default")); err != nil {
			return false, err.Error()
		}
		for _, e := range evs.Items {
			if e.Reason == "XRMalformedLatencyClass" && e.InvolvedObject.Name == "t15-zero" && e.Type == corev1.EventTypeWarning {
				return strings.Contains(e.Message, "no LatencyClass is usable, so the default classes apply"), e.Message
			}
		}
		return false, "no event"
	})
	// A default class is known again.
	if err := env.c.Client.Create(ctx, barePod("t15-classes", "low", map[string]string{policy.AnnotationLatencyClass: "low"})); err != nil {
		t.Errorf("a pod of the default class low with every LatencyClass malformed: %v", err)
	}
}
