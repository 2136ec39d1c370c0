// Package v1alpha1 holds the kubexr.io/v1alpha1 API: LatencyClass.
// +kubebuilder:object:generate=true
// +groupName=kubexr.io
package v1alpha1
