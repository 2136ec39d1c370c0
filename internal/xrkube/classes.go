package xrkube

import (
	"errors"
	"fmt"

	xrv1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
	"github.com/kubexr/kubectl-xr/policy"
)

// ClassSet builds the class set from the cluster's LatencyClasses. With none (the CRD not
// installed yet, or every class deleted) it is the compiled-in default set, so the
// defaults the manifests ship always apply. A malformed class is skipped and reported,
// so one bad object does not take the other classes down.
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
			errs = append(errs, fmt.Errorf("LatencyClass %s: %w", lc.Name, err))
			continue
		}
		classes = append(classes, c)
	}
	set, err := policy.NewClassSet(classes)
	if err != nil {
		return policy.MustDefaultClassSet(), errors.Join(append(errs, err)...)
	}
	return set, errors.Join(errs...)
}
