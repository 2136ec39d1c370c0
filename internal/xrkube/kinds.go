package xrkube

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// HintedKind is a kind whose objects may carry hint annotations (design brief). This one
// list serves the hint validator, the pod webhook's owner walk, `kubectl xr hint` and
// `kubectl xr explain`, so a kind added here is handled everywhere at once.
type HintedKind struct {
	schema.GroupKind
	// AnnotationPaths are the fields of the annotation maps that may hold hints: the
	// object's own, and those of the templates it makes pods (and Jobs) from.
	AnnotationPaths [][]string
	// PodTemplate is the path of the pod template it makes pods from; nil for Pod and
	// Namespace.
	PodTemplate []string
}

// Name is the kind as kubectl spells a resource: deployment, cronjob.
func (k HintedKind) Name() string { return strings.ToLower(k.Kind) }

// Owner: pods' controllers (directly or through another, as a Deployment through its
// ReplicaSet) of this kind may carry hints.
func (k HintedKind) Owner() bool { return k.PodTemplate != nil }

// PodSpec is the path of the spec of the pods it makes ({"spec"} for a Pod; nil for a
// Namespace).
func (k HintedKind) PodSpec() []string {
	if k.Kind == "Pod" {
		return []string{"spec"}
	}
	if k.PodTemplate == nil {
		return nil
	}
	return append(append([]string{}, k.PodTemplate...), "spec")
}

var (
	ownAnnotations = []string{"metadata", "annotations"}
	podTemplate    = []string{"spec", "template"}
	jobTemplate    = []string{"spec", "jobTemplate", "spec", "template"}
)

// HintedKinds, in the order users read them in help texts.
var HintedKinds = []HintedKind{
	{GroupKind: schema.GroupKind{Kind: "Pod"}, AnnotationPaths: [][]string{ownAnnotations}},
	{GroupKind: schema.GroupKind{Group: "apps", Kind: "Deployment"}, AnnotationPaths: templateAnnotations(podTemplate), PodTemplate: podTemplate},
	{GroupKind: schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, AnnotationPaths: templateAnnotations(podTemplate), PodTemplate: podTemplate},
	{GroupKind: schema.GroupKind{Group: "apps", Kind: "DaemonSet"}, AnnotationPaths: templateAnnotations(podTemplate), PodTemplate: podTemplate},
	{GroupKind: schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}, AnnotationPaths: templateAnnotations(podTemplate), PodTemplate: podTemplate},
	{GroupKind: schema.GroupKind{Group: "batch", Kind: "Job"}, AnnotationPaths: templateAnnotations(podTemplate), PodTemplate: podTemplate},
	// A CronJob's Job template has metadata of its own; its Jobs carry it as theirs.
	{GroupKind: schema.GroupKind{Group: "batch", Kind: "CronJob"}, AnnotationPaths: append(templateAnnotations(jobTemplate),
		[]string{"spec", "jobTemplate", "metadata", "annotations"}), PodTemplate: jobTemplate},
	{GroupKind: schema.GroupKind{Kind: "Namespace"}, AnnotationPaths: [][]string{ownAnnotations}},
}

func templateAnnotations(template []string) [][]string {
	return [][]string{ownAnnotations, append(append([]string{}, template...), "metadata", "annotations")}
}

// HintedKindOf is the entry for kind (any group: admission requests and unstructured
// objects name the kind; no two hinted kinds share a name), or false.
func HintedKindOf(kind string) (HintedKind, bool) {
	for _, k := range HintedKinds {
		if k.Kind == kind {
			return k, true
		}
	}
	return HintedKind{}, false
}

// HintedKindNames are the kinds as kubectl spells them, filtered by keep (nil: all).
func HintedKindNames(keep func(HintedKind) bool) []string {
	var out []string
	for _, k := range HintedKinds {
		if keep == nil || keep(k) {
			out = append(out, k.Name())
		}
	}
	return out
}
