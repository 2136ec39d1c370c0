// Package v1alpha1 holds the kinds of kubectl xr's machine-readable output (-o json|yaml,
// jsonpath, custom-columns): kubexr.io/v1alpha1 objects that no API server stores. They
// live apart from ../../v1alpha1 so that no CRD is generated for them (no +groupName).
// +kubebuilder:object:generate=true
package v1alpha1
