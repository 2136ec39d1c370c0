package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// What install applied is recorded as an ApplySet (KEP-3659, the format kubectl apply
// --applyset writes): a parent ConfigMap in kubexr-system names the group-kinds of its
// members, and every member carries the parent's id as a label. A later install deletes
// the members its release no longer has, and uninstall deletes every member, so objects
// a release dropped never outlive it.
const (
	applySetParentName   = "xr-webhook-applyset"
	applySetPartOfLabel  = "applyset.kubernetes.io/part-of"
	applySetIDLabel      = "applyset.kubernetes.io/id"
	applySetGKsKey       = "applyset.kubernetes.io/contains-group-kinds"
	applySetToolingKey   = "applyset.kubernetes.io/tooling"
	applySetToolingValue = "kubectl-xr/v1"
)

// applySetID is the id the spec derives from the parent's name, namespace, kind and
// group: "applyset-" + unpadded URL-safe base64 of their SHA-256 + "-v1".
func applySetID() string {
	sum := sha256.Sum256([]byte(applySetParentName + "." + installNamespace + ".ConfigMap."))
	return "applyset-" + base64.RawURLEncoding.EncodeToString(sum[:]) + "-v1"
}

// markMembers labels each object as a member of install's ApplySet.
func markMembers(objs []*unstructured.Unstructured) {
	id := applySetID()
	for _, obj := range objs {
		labels := obj.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[applySetPartOfLabel] = id
		obj.SetLabels(labels)
	}
}

// groupKinds are the objects' group-kinds as the spec writes them: Kind.group ("Kind"
// for the core group), sorted.
func groupKinds(objs []*unstructured.Unstructured) []string {
	var gks []string
	for _, obj := range objs {
		gk := obj.GroupVersionKind().GroupKind()
		s := gk.Kind
		if gk.Group != "" {
			s += "." + gk.Group
		}
		if !slices.Contains(gks, s) {
			gks = append(gks, s)
		}
	}
	sort.Strings(gks)
	return gks
}

func parseGroupKind(s string) schema.GroupKind {
	kind, group, _ := strings.Cut(s, ".")
	return schema.GroupKind{Group: group, Kind: kind}
}

// recordedGroupKinds reads the parent's group-kinds (none when there is no parent yet).
func recordedGroupKinds(ctx context.Context, c client.Client) ([]string, error) {
	parent := &corev1.ConfigMap{}
	err := c.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: applySetParentName}, parent)
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the install record %s/%s: %w", installNamespace, applySetParentName, err)
	}
	if v := parent.Annotations[applySetGKsKey]; v != "" {
		return strings.Split(v, ","), nil
	}
	return nil, nil
}

// writeParent creates or updates the parent with these group-kinds.
func writeParent(ctx context.Context, c client.Client, gks []string) error {
	parent := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: applySetParentName, Namespace: installNamespace,
			Labels:      map[string]string{applySetIDLabel: applySetID(), "app.kubernetes.io/part-of": "kubectl-xr"},
			Annotations: map[string]string{applySetToolingKey: applySetToolingValue, applySetGKsKey: strings.Join(gks, ",")}},
	}
	if err := c.Patch(ctx, parent, client.Apply, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("record the install in %s/%s: %w", installNamespace, applySetParentName, err)
	}
	return nil
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// members lists the live objects labelled as members, of the recorded group-kinds, in
// kubexr-system or cluster-scoped.
func members(ctx context.Context, c client.Client, mapper meta.RESTMapper, gks []string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, s := range gks {
		gk := parseGroupKind(s)
		mapping, err := mapper.RESTMapping(gk)
		if meta.IsNoMatchError(err) {
			continue // the kind is gone (its CRD deleted): so are its objects
		}
		if err != nil {
			return nil, err
		}
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(mapping.GroupVersionKind.GroupVersion().WithKind(mapping.GroupVersionKind.Kind + "List"))
		opts := []client.ListOption{client.MatchingLabels{applySetPartOfLabel: applySetID()}}
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			opts = append(opts, client.InNamespace(installNamespace))
		}
		if err := c.List(ctx, list, opts...); err != nil {
			return nil, fmt.Errorf("list %s members of the install: %w", s, err)
		}
		for i := range list.Items {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

func objectKey(obj *unstructured.Unstructured) string {
	return obj.GroupVersionKind().GroupKind().String() + "/" + obj.GetNamespace() + "/" + obj.GetName()
}

// prune deletes the members that are not among objs (a release dropped them), then
// records only objs' group-kinds.
func prune(ctx context.Context, c client.Client, mapper meta.RESTMapper, objs []*unstructured.Unstructured, recorded []string, out func(string)) error {
	keep := map[string]bool{}
	for _, obj := range objs {
		keep[objectKey(obj)] = true
	}
	live, err := members(ctx, c, mapper, union(recorded, groupKinds(objs)))
	if err != nil {
		return err
	}
	for _, obj := range live {
		if keep[objectKey(obj)] {
			continue
		}
		if err := c.Delete(ctx, obj, client.PropagationPolicy("Background")); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("prune %s/%s: %w", kindGroup(obj), obj.GetName(), err)
		}
		out(fmt.Sprintf("%s/%s pruned", kindGroup(obj), obj.GetName()))
	}
	return writeParent(ctx, c, groupKinds(objs))
}
