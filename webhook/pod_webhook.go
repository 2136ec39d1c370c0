package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubexr/kubectl-xr/policy"
)

// MutatePodPath is where the pod webhook is served.
const MutatePodPath = "/mutate-pod"

// errNotLoaded refuses admissions before the first inventory: a decision against an
// empty inventory would keep every hinted pod off every remote cluster.
var errNotLoaded = errors.New("xr-webhook has not loaded the cluster inventory yet; retry in a few seconds")

// PodPlacer is the mutating pod webhook: decode → policy decision → patch.
type PodPlacer struct {
	Decoder admission.Decoder
	evaluator
	Store   *Store
	Metrics *Metrics
}

var _ admission.Handler = &PodPlacer{}

// Handle places one pod.
func (p *PodPlacer) Handle(ctx context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create {
		return admission.Allowed("only pod creation is placed")
	}
	start := time.Now()
	pod := &corev1.Pod{}
	if err := p.Decoder.Decode(req, pod); err != nil {
		p.count("error", "")
		return admission.Errored(http.StatusBadRequest, fmt.Errorf("decode pod: %w", err))
	}
	resp, result, class := p.place(ctx, req, pod)
	p.count(result, class)
	if result == "placed" || result == "no-eligible" {
		p.Metrics.DecisionSeconds.Observe(time.Since(start).Seconds())
	}
	return resp
}

func (p *PodPlacer) count(result, class string) {
	p.Metrics.Admissions.WithLabelValues(result, class).Inc()
}

func (p *PodPlacer) place(ctx context.Context, req admission.Request, pod *corev1.Pod) (admission.Response, string, string) {
	snap := p.Store.Load()
	if snap == nil {
		return admission.Errored(http.StatusServiceUnavailable, errNotLoaded), "error", ""
	}
	ev, _, err := p.evaluate(ctx, snap, &pod.ObjectMeta, req.Namespace)
	switch {
	case err != nil && isHintError(err):
		return admission.Denied(err.Error()), "denied", ""
	case err != nil:
		return admission.Errored(http.StatusInternalServerError, err), "error", ""
	case !ev.Hint.Present():
		return admission.Allowed("no latency hint"), "untouched", ""
	}
	if errs := policy.ValidateNodeAffinity(&pod.Spec, field.NewPath("spec")); len(errs) > 0 {
		return invalid(podRef(pod), errs), "denied", ""
	}
	hint, decision := ev.Hint, ev.Decision
	placed := pod.DeepCopy()
	decision.Apply(&placed.Spec)
	if placed.Annotations == nil {
		placed.Annotations = map[string]string{}
	}
	placed.Annotations[policy.AnnotationDecision] = decision.RecordJSON()
	if placed.Labels == nil {
		placed.Labels = map[string]string{}
	}
	placed.Labels[policy.LabelPlaced] = "true"
	patches, err := ownPatch(pod, placed)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, fmt.Errorf("encode pod: %w", err)), "error", hint.Class
	}
	result := "placed"
	if !decision.Eligible() {
		result = "no-eligible"
	}
	logf.FromContext(ctx).V(1).Info("placed pod", "class", hint.Class, "bound", decision.Bound,
		"local", decision.Local, "remote", len(decision.Remote), "reason", decision.Reason)
	return admission.Patched("", patches...), result, hint.Class
}

// podRef names a pod as kubectl does; a controller's pod has no name yet at admission.
func podRef(pod *corev1.Pod) string {
	if pod.Name == "" && pod.GenerateName != "" {
		return "pod/" + pod.GenerateName + "<generated>"
	}
	return "pod/" + pod.Name
}

// ownPaths are the only parts of a pod the webhook changes.
var ownPaths = []string{"/spec/affinity", "/spec/tolerations", "/metadata/annotations", "/metadata/labels"}

// ownParts is a pod reduced to ownPaths, in the pod's own JSON shape.
type ownParts struct {
	Metadata struct {
		Annotations map[string]string `json:"annotations,omitempty"`
		Labels      map[string]string `json:"labels,omitempty"`
	} `json:"metadata"`
	Spec struct {
		Affinity    *corev1.Affinity    `json:"affinity,omitempty"`
		Tolerations []corev1.Toleration `json:"tolerations,omitempty"`
	} `json:"spec"`
}

// ownPatch is the JSON patch from pod to placed within ownPaths. Only those parts are
// encoded and compared — encoding and diffing the whole pod twice was a third of the
// webhook's time per admission (BENCHMARKS.md §3) — and nothing else can be touched:
// whatever differs elsewhere (a defaulting difference between this build and the API
// server) is left as the API server sent it. Both sides are this build's encoding, so a
// field inside these parts that this build does not know is absent from both and no
// operation removes it.
func ownPatch(pod, placed *corev1.Pod) ([]jsonpatch.JsonPatchOperation, error) {
	parts := func(p *corev1.Pod) ([]byte, error) {
		var o ownParts
		o.Metadata.Annotations, o.Metadata.Labels = p.Annotations, p.Labels
		o.Spec.Affinity, o.Spec.Tolerations = p.Spec.Affinity, p.Spec.Tolerations
		return json.Marshal(&o)
	}
	before, err := parts(pod)
	if err != nil {
		return nil, err
	}
	after, err := parts(placed)
	if err != nil {
		return nil, err
	}
	return jsonpatch.CreatePatch(before, after)
}

// ownPath says whether a JSON patch path lies inside ownPaths.
func ownPath(path string) bool {
	for _, prefix := range ownPaths {
		if path == prefix || strings.HasPrefix(path, prefix+"/") {
			return true
		}
	}
	return false
}
