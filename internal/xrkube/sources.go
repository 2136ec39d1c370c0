package xrkube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
)

// maxOwnerDepth bounds the owner walk: pod → ReplicaSet → Deployment, pod → Job →
// CronJob. A deeper chain (a custom controller owning a Deployment) ends there.
const maxOwnerDepth = 2

// workloadKinds are the owners whose metadata can carry hints (the owners among
// HintedKinds), keyed by group/kind, with their kubectl names.
var workloadKinds = func() map[schema.GroupKind]string {
	out := map[schema.GroupKind]string{}
	for _, k := range HintedKinds {
		if k.Owner() {
			out[k.GroupKind] = k.Name()
		}
	}
	return out
}()

// WorkloadGVKs are the workload kinds whose metadata the webhook caches.
func WorkloadGVKs() []schema.GroupVersionKind {
	out := make([]schema.GroupVersionKind, 0, len(workloadKinds))
	for _, k := range HintedKinds {
		if k.Owner() {
			out = append(out, k.WithVersion("v1"))
		}
	}
	return out
}

// MetadataReader reads object metadata. Hot paths pass an informer cache, which may lag
// behind an owner created a moment ago; Fallback, when set, is asked on a cache miss so
// a just-created ReplicaSet's hint is never silently dropped.
type MetadataReader struct {
	Reader   client.Reader
	Fallback client.Reader
}

func (m MetadataReader) get(ctx context.Context, gvk schema.GroupVersionKind, key client.ObjectKey) (*metav1.PartialObjectMetadata, error) {
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gvk)
	err := m.Reader.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) && m.Fallback != nil {
		err = m.Fallback.Get(ctx, key, obj)
	}
	return obj, err
}

// PodSources are a pod's hint sources and the controllers they were read from.
type PodSources struct {
	// Hints are most specific first: the pod, its controlling owners nearest first, then
	// its namespace — the order policy.Resolve expects.
	Hints []policy.Annotated
	// Owners are the controllers read, nearest first (ReplicaSet then Deployment; Job then
	// CronJob); the last one is the workload users manage.
	Owners []*metav1.PartialObjectMetadata
}

// Workload is the outermost controller read (e.g. the Deployment of a ReplicaSet's pod),
// or nil for a pod without one.
func (s PodSources) Workload() *metav1.PartialObjectMetadata {
	if len(s.Owners) == 0 {
		return nil
	}
	return s.Owners[len(s.Owners)-1]
}

// HintSources reads the pod's hint sources (see PodSources). An owner that no longer
// exists ends the walk (its pods are being deleted); any other read error is returned,
// because resolving without a source could drop a constraint.
func HintSources(ctx context.Context, r MetadataReader, pod *metav1.ObjectMeta, namespace string) (PodSources, error) {
	out := PodSources{Hints: make([]policy.Annotated, 0, 4)}
	out.Hints = append(out.Hints, policy.Annotated{
		Source:      policy.Source{Kind: "pod", Name: podName(pod)},
		Annotations: pod.Annotations,
	})
	owner := metav1.GetControllerOfNoCopy(pod)
	for depth := 0; owner != nil && depth < maxOwnerDepth; depth++ {
		gv, err := schema.ParseGroupVersion(owner.APIVersion)
		if err != nil {
			break
		}
		kind, ok := workloadKinds[gv.WithKind(owner.Kind).GroupKind()]
		if !ok {
			break
		}
		meta, err := r.get(ctx, gv.WithKind(owner.Kind), client.ObjectKey{Namespace: namespace, Name: owner.Name})
		if apierrors.IsNotFound(err) {
			break
		}
		if err != nil {
			return PodSources{}, fmt.Errorf("read %s %s/%s: %w", kind, namespace, owner.Name, err)
		}
		out.Owners = append(out.Owners, meta)
		next := metav1.GetControllerOfNoCopy(meta)
		// The deployment controller copies a Deployment's annotations onto its
		// ReplicaSets: the Deployment, which users annotate, is named as the source.
		if !(kind == "replicaset" && next != nil && next.Kind == "Deployment") {
			out.Hints = append(out.Hints, policy.Annotated{
				Source:      policy.Source{Kind: kind, Name: owner.Name},
				Annotations: meta.Annotations,
			})
		}
		owner = next
	}
	ns, err := r.get(ctx, corev1.SchemeGroupVersion.WithKind("Namespace"), client.ObjectKey{Name: namespace})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return PodSources{}, fmt.Errorf("read namespace %s: %w", namespace, err)
	default:
		out.Hints = append(out.Hints, policy.Annotated{
			Source:      policy.Source{Kind: "namespace", Name: namespace},
			Annotations: ns.Annotations,
		})
	}
	return out, nil
}

// podName names a pod that may not have a name yet: at admission a pod created from
// generateName has none, so "rs-name-" stands for it.
func podName(pod *metav1.ObjectMeta) string {
	if pod.Name != "" {
		return pod.Name
	}
	return pod.GenerateName
}
