package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"

	liqov1beta1 "github.com/liqotech/liqo/apis/core/v1beta1"
	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	"github.com/spf13/cobra"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	xrv1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// DoctorOptions checks that latency placement can work in the current cluster.
type DoctorOptions struct {
	genericiooptions.IOStreams
	getter genericclioptions.RESTClientGetter
}

// NewCmdDoctor builds `kubectl xr doctor`.
func NewCmdDoctor(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DoctorOptions{IOStreams: streams, getter: f}
	return &cobra.Command{
		Use:   "doctor",
		Short: "Check Liqo, peerings, measured latency, xr-webhook and opted-in namespaces, with fixes",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return o.Run(cmd.Context()) },
	}
}

// errUnhealthy is returned when a check failed; the checks themselves say what and why.
var errUnhealthy = errors.New("some checks failed (see above)")

// report prints one check result per line.
type report struct {
	w      io.Writer
	failed bool
}

func (r *report) ok(format string, args ...any) { fmt.Fprintf(r.w, "[ok]   "+format+"\n", args...) }
func (r *report) warn(format string, args ...any) {
	fmt.Fprintf(r.w, "[warn] "+format+"\n", args...)
}
func (r *report) fail(format string, args ...any) {
	r.failed = true
	fmt.Fprintf(r.w, "[fail] "+format+"\n", args...)
}

// Run runs every check and fails when one fails.
func (o *DoctorOptions) Run(ctx context.Context) error {
	k, err := newKube(o.getter)
	if err != nil {
		return err
	}
	r := &report{w: o.Out}
	c := k.client
	checkLiqo(ctx, c, liqoNamespaceOf(o.getter), r)
	checkClasses(ctx, c, r)
	checkWebhook(ctx, c, r)
	checkPeers(ctx, c, r)
	checkNamespaces(ctx, c, r)
	if r.failed {
		return errUnhealthy
	}
	return nil
}

func checkLiqo(ctx context.Context, c client.Client, liqoNamespace string, r *report) {
	var cms corev1.ConfigMapList
	err := c.List(ctx, &cms, client.InNamespace(liqoNamespace), client.MatchingLabels{"app.kubernetes.io/name": "clusterid-configmap"})
	if err != nil || len(cms.Items) == 0 {
		r.fail("Liqo: not installed in namespace %q (install Liqo v1.2: liqoctl install)", liqoNamespace)
		return
	}
	r.ok("Liqo: installed, cluster id %s", cms.Items[0].Data["CLUSTER_ID"])
}

func checkClasses(ctx context.Context, c client.Client, r *report) {
	var lcs xrv1.LatencyClassList
	if err := c.List(ctx, &lcs); err != nil {
		r.fail("LatencyClasses: CRD not installed (kubectl xr install)")
		return
	}
	if len(lcs.Items) == 0 {
		r.warn("LatencyClasses: none defined; the compiled-in defaults apply (kubectl xr install adds them)")
		return
	}
	r.ok("LatencyClasses: %d defined (kubectl xr classes)", len(lcs.Items))
}

func checkWebhook(ctx context.Context, c client.Client, r *report) {
	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "kubexr-system", Name: "xr-webhook"}, dep); err != nil {
		r.fail("xr-webhook: not installed (kubectl xr install)")
		return
	}
	if dep.Status.AvailableReplicas == 0 {
		r.fail("xr-webhook: no replica available: pods in opted-in namespaces cannot be created (kubectl -n kubexr-system describe deploy/xr-webhook)")
	} else {
		r.ok("xr-webhook: %d/%d replicas available", dep.Status.AvailableReplicas, dep.Status.Replicas)
	}
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := c.Get(ctx, client.ObjectKey{Name: "xr-webhook"}, m); err != nil {
		r.fail("xr-webhook: MutatingWebhookConfiguration missing (kubectl xr install)")
		return
	}
	for _, w := range m.Webhooks {
		if len(w.ClientConfig.CABundle) == 0 {
			r.fail("xr-webhook: webhook %s has no CA bundle yet: the API server cannot call it (certificate rotation or cert-manager not done)", w.Name)
			return
		}
	}
	r.ok("xr-webhook: webhook configurations carry a CA bundle")
}

func checkPeers(ctx context.Context, c client.Client, r *report) {
	var fcs liqov1beta1.ForeignClusterList
	if err := c.List(ctx, &fcs); err != nil {
		r.fail("peerings: cannot list Liqo ForeignClusters: %v", err)
		return
	}
	if len(fcs.Items) == 0 {
		r.warn("peerings: none (kubectl xr peer add)")
		return
	}
	peers, err := listPeers(ctx, c)
	if err != nil {
		r.fail("peerings: %v", err)
		return
	}
	var nodes corev1.NodeList
	_ = c.List(ctx, &nodes, client.MatchingLabels{policy.LiqoTypeLabel: policy.LiqoTypeVirtualNode})
	ready := map[string]bool{}
	for _, n := range nodes.Items {
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
				ready[n.Name] = true
			}
		}
	}
	var conns networkingv1beta1.ConnectionList
	_ = c.List(ctx, &conns)
	for _, p := range peers {
		notReady := 0
		for _, n := range p.VirtualNodes {
			if !ready[n] {
				notReady++
			}
		}
		switch {
		case len(p.VirtualNodes) == 0:
			r.warn("peer %s: no virtual node (peering incomplete, or resources not shared)", p.ClusterID)
		case notReady > 0:
			r.fail("peer %s: %d of %d virtual nodes not Ready", p.ClusterID, notReady, len(p.VirtualNodes))
		}
		switch {
		case p.Connection == "Disabled":
			r.warn("peer %s: Liqo networking disabled: no measured latency, so it never receives pods with a bound", p.ClusterID)
		case p.Connection != string(networkingv1beta1.Connected):
			r.fail("peer %s: connection %s: it receives no pods with a bound until Connected", p.ClusterID, p.Connection)
		case p.LatencyClass == "":
			r.warn("peer %s: connected but not labelled with a latency class: is xr-webhook's observer running?", p.ClusterID)
		default:
			r.ok("peer %s: connected, RTT %s, class %s", p.ClusterID, orDash(p.RTT), p.LatencyClass)
		}
	}
}

func checkNamespaces(ctx context.Context, c client.Client, r *report) {
	var nss corev1.NamespaceList
	if err := c.List(ctx, &nss, client.MatchingLabels{policy.LabelEnabled: "true"}); err != nil {
		r.fail("namespaces: %v", err)
		return
	}
	if len(nss.Items) == 0 {
		r.warn("namespaces: none opted in to latency placement (kubectl xr offload NAMESPACE)")
		return
	}
	for _, ns := range nss.Items {
		no := &offloadingv1beta1.NamespaceOffloading{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: xrkube.NamespaceOffloadingName}, no); err != nil {
			r.warn("namespace %s: opted in but not offloaded with Liqo: its pods stay local (kubectl xr offload %s)", ns.Name, ns.Name)
			continue
		}
		r.ok("namespace %s: offloaded (%s), default class %s", ns.Name, orDash(string(no.Spec.PodOffloadingStrategy)),
			orDash(ns.Annotations[policy.AnnotationLatencyClass]))
	}
}
