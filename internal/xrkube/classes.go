package xrkube

import (
	"errors"

	xrv1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
	"github.com/kubexr/kubectl-xr/policy"
)

// ClassSet builds the class set from the cluster's LatencyClasses. With none usable (the
// CRD not installed yet, every class deleted, or every class malformed) it is the
// compiled-in default set, so the defaults the manifests ship always apply and a bad
// edit never makes every class hint unknown. A malformed class is skipped and reported
// as a *MalformedClassError, so one bad object does not take the other classes down.
func ClassSet(items []xrv1.LatencyClass) (policy.ClassSet, error) {
	if len(items) == 0 {
		return policy.MustDefaultClassSet(), nil
	}
	classes := make([]policy.Class, 0, len(items))
	var errs []error
	for i := range items {
		lc := &items[i]
		c, err := policy.ParseClass(lc.Name, lc.Spec.MaxRTT, lc.Spec.MoveAfter, lc.Spec.Description)
		if err != nil {
			errs = append(errs, &MalformedClassError{Name: lc.Name, Err: err})
			continue
		}
		classes = append(classes, c)
	}
	if len(classes) == 0 {
		return policy.MustDefaultClassSet(), errors.Join(append(errs, errors.New("no LatencyClass is usable: using the default classes"))...)
	}
	set, err := policy.NewClassSet(classes)
	if err != nil {
		return policy.MustDefaultClassSet(), errors.Join(append(errs, err)...)
	}
	return set, errors.Join(errs...)
}

// MalformedClassError is one LatencyClass that could not be read.
type MalformedClassError struct {
	Name string
	Err  error
}

// Error is ParseClass's message, which names the class.
func (e *MalformedClassError) Error() string { return e.Err.Error() }

func (e *MalformedClassError) Unwrap() error { return e.Err }

// MalformedClasses lists the malformed classes ClassSet reported in err.
func MalformedClasses(err error) []*MalformedClassError {
	var out []*MalformedClassError
	var walk func(error)
	walk = func(err error) {
		var m *MalformedClassError
		switch e := err.(type) {
		case nil:
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		default:
			if errors.As(err, &m) {
				out = append(out, m)
			}
		}
	}
	walk(err)
	return out
}
