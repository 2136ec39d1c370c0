package webhook

import (
	"context"
	"errors"
	"fmt"

	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// evaluator reads what a pod's placement depends on — its hint sources and its
// namespace's NamespaceOffloading — and calls policy.Evaluate. The pod webhook and the
// mover share it, so a pod is judged after admission exactly as it was placed.
type evaluator struct {
	// Meta reads owners and namespaces (informer caches, with a live fallback on a miss).
	Meta xrkube.MetadataReader
	// Cache reads NamespaceOffloadings.
	Cache client.Reader
	Clock clock.PassiveClock
	// offloadings remembers what each namespace's NamespaceOffloading selects; nil
	// computes it for every pod.
	offloadings *offloadingCache
}

// evaluate judges one pod against snap. A malformed hint is returned as an error wrapping
// *policy.HintError (see isHintError); any other error is a failed read.
func (e evaluator) evaluate(ctx context.Context, snap *Snapshot, pod *metav1.ObjectMeta, ns string) (policy.Evaluation, xrkube.PodSources, error) {
	srcs, err := xrkube.HintSources(ctx, e.Meta, pod, ns)
	if err != nil {
		return policy.Evaluation{}, srcs, err
	}
	var offloading *policy.Offloading
	if policy.AnyHint(srcs.Hints) { // an unhinted pod is left alone: no need to read more
		if offloading, err = e.offloading(ctx, ns, snap.Inventory); err != nil {
			return policy.Evaluation{}, srcs, err
		}
	}
	ev, err := policy.Evaluate(policy.Input{Sources: srcs.Hints, Classes: snap.Classes, Inventory: snap.Inventory,
		Offloading: offloading, Now: e.Clock.Now()})
	return ev, srcs, err
}

func (e evaluator) offloading(ctx context.Context, ns string, inv *policy.Inventory) (*policy.Offloading, error) {
	no := &offloadingv1beta1.NamespaceOffloading{}
	err := e.Cache.Get(ctx, client.ObjectKey{Namespace: ns, Name: xrkube.NamespaceOffloadingName}, no)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read NamespaceOffloading %s/%s: %w", ns, xrkube.NamespaceOffloadingName, err)
	}
	return e.offloadings.get(no, inv), nil
}

// isHintError reports whether err is a malformed hint rather than a failed read.
func isHintError(err error) bool {
	var he *policy.HintError
	return errors.As(err, &he)
}
