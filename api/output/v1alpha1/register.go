package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is kubexr.io/v1alpha1, the group of the stored LatencyClass too.
	GroupVersion = schema.GroupVersion{Group: "kubexr.io", Version: "v1alpha1"}
	// SchemeBuilder registers the output kinds.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}
	// AddToScheme adds the output kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
