package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CheckStatus is the outcome of one doctor check.
type CheckStatus string

// The outcomes: Fail makes `kubectl xr doctor` exit non-zero, Warn does not.
const (
	CheckOK   CheckStatus = "ok"
	CheckWarn CheckStatus = "warn"
	CheckFail CheckStatus = "fail"
)

// DoctorCheck is one thing `kubectl xr doctor` checked.
type DoctorCheck struct {
	// Check is what was checked: Liqo, LatencyClasses, xr-webhook, peer <id>,
	// namespace <name>, peerings, namespaces.
	Check string `json:"check"`
	// Status is ok, warn or fail.
	Status CheckStatus `json:"status"`
	// Message says what was found.
	Message string `json:"message"`
	// Fix is what to do about a warn or fail, when there is something to do.
	Fix string `json:"fix,omitempty"`
}

// DoctorReport is `kubectl xr doctor -o json|yaml`.
// +kubebuilder:object:root=true
type DoctorReport struct {
	metav1.TypeMeta `json:",inline"`
	// LiqoVersion is the version of Liqo's controller-manager image ("" when unknown).
	LiqoVersion string `json:"liqoVersion,omitempty"`
	// Healthy: no check failed (doctor's exit status is 0).
	Healthy bool          `json:"healthy"`
	Checks  []DoctorCheck `json:"checks"`
}

func init() {
	SchemeBuilder.Register(&DoctorReport{})
}
