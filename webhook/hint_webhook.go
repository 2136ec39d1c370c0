package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// ValidateHintsPath is where the hint validator is served.
const ValidateHintsPath = "/validate-hints"

// validatePodSpecAt refuses a hinted object's pod spec the placement cannot honour (the
// reserved key in a user's expression, absurd affinities), at apply time.
func validatePodSpecAt(u *unstructured.Unstructured, path []string) field.ErrorList {
	if path == nil {
		return nil
	}
	affinity, found, err := unstructured.NestedMap(u.Object, append(slices.Clone(path), "affinity")...)
	if err != nil || !found {
		return nil
	}
	spec := &corev1.PodSpec{Affinity: &corev1.Affinity{}}
	fld := field.NewPath(path[0], path[1:]...)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(affinity, spec.Affinity); err != nil {
		return field.ErrorList{field.Invalid(fld.Child("affinity"), "", err.Error())}
	}
	return policy.ValidateNodeAffinity(spec, fld)
}

// HintValidator rejects malformed hints when an object is created or updated, so a bad
// hint fails `kubectl apply` instead of every later pod creation.
type HintValidator struct {
	Store   *Store
	Metrics *Metrics
}

var _ admission.Handler = &HintValidator{}

// Handle validates the hints of one object.
func (v *HintValidator) Handle(_ context.Context, req admission.Request) admission.Response {
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed("")
	}
	kind, ok := xrkube.HintedKindOf(req.Kind.Kind)
	if !ok {
		return admission.Allowed("kind carries no hints")
	}
	snap := v.Store.Load()
	if snap == nil {
		return admission.Errored(http.StatusServiceUnavailable, errNotLoaded)
	}
	obj, err := decodeUnstructured(req.Object.Raw)
	if err != nil {
		return admission.Errored(http.StatusBadRequest, err)
	}
	var old *unstructured.Unstructured
	if req.Operation == admissionv1.Update && len(req.OldObject.Raw) > 0 {
		if old, err = decodeUnstructured(req.OldObject.Raw); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
	}
	var msgs []string
	judged := false
	for _, path := range kind.AnnotationPaths {
		hints := hintsAt(obj, path)
		// An update that leaves a location's hints unchanged is not judged again: a class
		// deleted since must not block scaling or editing an unrelated field.
		if old != nil && maps.Equal(hints, hintsAt(old, path)) {
			continue
		}
		judged = judged || len(hints) > 0
		if err := policy.ValidateAnnotations(hints, snap.Classes); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				msgs = append(msgs, strings.Join(path, ".")+": "+line)
			}
		}
	}
	if judged {
		for _, err := range validatePodSpecAt(obj, kind.PodSpec()) {
			msgs = append(msgs, err.Error())
		}
	}
	if len(msgs) > 0 {
		v.Metrics.Validations.WithLabelValues("denied").Inc()
		return admission.Denied(strings.Join(msgs, "; "))
	}
	v.Metrics.Validations.WithLabelValues("allowed").Inc()
	return admission.Allowed("")
}

func decodeUnstructured(raw []byte) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(raw, &u.Object); err != nil {
		return nil, fmt.Errorf("decode object: %w", err)
	}
	return u, nil
}

// hintsAt returns the hint annotations at path (nil if none).
func hintsAt(u *unstructured.Unstructured, path []string) map[string]string {
	all, _, _ := unstructured.NestedStringMap(u.Object, path...)
	var out map[string]string
	for _, k := range policy.HintKeys {
		if v, ok := all[k]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}
