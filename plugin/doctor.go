package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	liqov1beta1 "github.com/liqotech/liqo/apis/core/v1beta1"
	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	liqogetters "github.com/liqotech/liqo/pkg/utils/getters"
	"github.com/spf13/cobra"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client"

	outputv1 "github.com/kubexr/kubectl-xr/api/output/v1alpha1"
	xrv1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// supportedLiqo is the Liqo minor version kubectl-xr is built and tested against.
const supportedLiqo = "v1.2."

// DoctorOptions checks that latency placement can work in the current cluster.
type DoctorOptions struct {
	Output string
	genericiooptions.IOStreams
	getter genericclioptions.RESTClientGetter
}

// NewCmdDoctor builds `kubectl xr doctor`.
func NewCmdDoctor(f genericclioptions.RESTClientGetter, streams genericiooptions.IOStreams) *cobra.Command {
	o := &DoctorOptions{IOStreams: streams, getter: f}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check Liqo, peerings, measured latency, xr-webhook and opted-in namespaces, with fixes",
		Long: "Exits 0 only when no check fails. -o json|yaml prints a kubexr.io/v1alpha1 DoctorReport\n" +
			"(docs/output.md): the Liqo version found and each check with its status and fix.",
		Example: "  kubectl xr doctor\n  kubectl xr doctor -o json | jq '.checks[] | select(.status != \"ok\")'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Output != "" && o.Output != "json" && o.Output != "yaml" {
				return fmt.Errorf("unknown output format %q: use json or yaml (or nothing, for lines)", o.Output)
			}
			return o.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&o.Output, "output", "o", "", "json or yaml: print a DoctorReport")
	return cmd
}

// errUnhealthy is returned when a check failed; the checks themselves say what and why.
var errUnhealthy = errors.New("some checks failed (see above)")

// report collects the checks' results.
type report struct {
	outputv1.DoctorReport
}

func (r *report) add(status outputv1.CheckStatus, check, fix, format string, args ...any) {
	r.Checks = append(r.Checks, outputv1.DoctorCheck{Check: check, Status: status, Message: fmt.Sprintf(format, args...), Fix: fix})
}
func (r *report) ok(check, format string, args ...any) {
	r.add(outputv1.CheckOK, check, "", format, args...)
}
func (r *report) warn(check, fix, format string, args ...any) {
	r.add(outputv1.CheckWarn, check, fix, format, args...)
}
func (r *report) fail(check, fix, format string, args ...any) {
	r.add(outputv1.CheckFail, check, fix, format, args...)
}

// print writes one line per check: [status] check: message (fix), the status column
// aligned by cli-runtime's tab writer.
func (r *report) print(out io.Writer) {
	w := printers.GetNewTabWriter(out)
	for _, c := range r.Checks {
		line := fmt.Sprintf("[%s]\t%s: %s", c.Status, c.Check, c.Message)
		if c.Fix != "" {
			line += " (" + c.Fix + ")"
		}
		fmt.Fprintln(w, line)
	}
	_ = w.Flush() // the command's output stream; a failed write has nothing better to say
}

// Run runs every check and fails when one fails.
func (o *DoctorOptions) Run(ctx context.Context) error {
	k, err := newKube(o.getter)
	if err != nil {
		return err
	}
	r := &report{}
	c := k.client
	checkLiqo(ctx, c, liqoNamespaceOf(o.getter), r)
	checkClasses(ctx, c, r)
	checkWebhook(ctx, c, r)
	checkPeers(ctx, c, r)
	checkNamespaces(ctx, c, r)
	r.Healthy = !slices.ContainsFunc(r.Checks, func(c outputv1.DoctorCheck) bool { return c.Status == outputv1.CheckFail })
	if o.Output != "" {
		r.SetGroupVersionKind(outputv1.GroupVersion.WithKind("DoctorReport"))
		if err := printObject(o.Out, o.Output, &r.DoctorReport); err != nil {
			return err
		}
	} else {
		r.print(o.Out)
	}
	if !r.Healthy {
		return errUnhealthy
	}
	return nil
}

func checkLiqo(ctx context.Context, c client.Client, liqoNamespace string, r *report) {
	var cms corev1.ConfigMapList
	err := c.List(ctx, &cms, client.InNamespace(liqoNamespace), client.MatchingLabels{"app.kubernetes.io/name": "clusterid-configmap"})
	if err != nil || len(cms.Items) == 0 {
		r.fail("Liqo", "install Liqo v1.2: liqoctl install; or give its namespace with --liqo-namespace", "not installed in namespace %q", liqoNamespace)
		return
	}
	// The version as liqoctl version reads it: the controller-manager Deployment's image tag.
	version, err := liqogetters.GetLiqoVersion(ctx, c, liqoNamespace)
	switch {
	case err != nil:
		r.warn("Liqo", "kubectl -n "+liqoNamespace+" get deploy -l app.kubernetes.io/component=controller-manager",
			"installed, cluster id %s; version unknown: %v", cms.Items[0].Data["CLUSTER_ID"], err)
	case !strings.HasPrefix(version, supportedLiqo):
		r.LiqoVersion = version
		r.warn("Liqo", "kubectl-xr supports Liqo "+supportedLiqo+"x: upgrade or downgrade Liqo",
			"installed, cluster id %s, version %s is outside the supported range", cms.Items[0].Data["CLUSTER_ID"], version)
	default:
		r.LiqoVersion = version
		r.ok("Liqo", "installed, cluster id %s, version %s", cms.Items[0].Data["CLUSTER_ID"], version)
	}
}

func checkClasses(ctx context.Context, c client.Client, r *report) {
	var lcs xrv1.LatencyClassList
	if err := c.List(ctx, &lcs); err != nil {
		r.fail("LatencyClasses", "kubectl xr install", "CRD not installed")
		return
	}
	if len(lcs.Items) == 0 {
		r.warn("LatencyClasses", "kubectl xr install adds them", "none defined; the compiled-in defaults apply")
		return
	}
	r.ok("LatencyClasses", "%d defined (kubectl xr classes)", len(lcs.Items))
}

func checkWebhook(ctx context.Context, c client.Client, r *report) {
	dep := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "kubexr-system", Name: "xr-webhook"}, dep); err != nil {
		r.fail("xr-webhook", "kubectl xr install", "not installed")
		return
	}
	if dep.Status.AvailableReplicas == 0 {
		r.fail("xr-webhook", "kubectl -n kubexr-system describe deploy/xr-webhook", "no replica available: hinted pods in opted-in namespaces cannot be created")
	} else {
		r.ok("xr-webhook", "%d/%d replicas available", dep.Status.AvailableReplicas, dep.Status.Replicas)
	}
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := c.Get(ctx, client.ObjectKey{Name: "xr-webhook"}, m); err != nil {
		r.fail("xr-webhook", "kubectl xr install", "MutatingWebhookConfiguration missing")
		return
	}
	for _, w := range m.Webhooks {
		if len(w.ClientConfig.CABundle) == 0 {
			r.fail("xr-webhook", "wait for certificate rotation, or check cert-manager", "webhook %s has no CA bundle yet: the API server cannot call it", w.Name)
			return
		}
	}
	r.ok("xr-webhook", "webhook configurations carry a CA bundle")
}

func checkPeers(ctx context.Context, c client.Client, r *report) {
	var fcs liqov1beta1.ForeignClusterList
	if err := c.List(ctx, &fcs); err != nil {
		r.fail("peerings", "", "cannot list Liqo ForeignClusters: %v", err)
		return
	}
	if len(fcs.Items) == 0 {
		r.warn("peerings", "kubectl xr peer add", "none")
		return
	}
	peers, err := listPeers(ctx, c)
	if err != nil {
		r.fail("peerings", "", "%v", err)
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
			r.warn("peer "+p.ClusterID, "", "no virtual node (peering incomplete, or resources not shared)")
		case notReady > 0:
			r.fail("peer "+p.ClusterID, "kubectl describe node -l liqo.io/remote-cluster-id="+p.ClusterID, "%d of %d virtual nodes not Ready", notReady, len(p.VirtualNodes))
		}
		switch {
		case p.Connection == "Disabled":
			r.warn("peer "+p.ClusterID, "", "Liqo networking disabled: no measured latency, so it never receives pods with a bound")
		case p.Connection != string(networkingv1beta1.Connected):
			r.fail("peer "+p.ClusterID, "check Liqo's gateways: kubectl get connections.networking.liqo.io -A", "connection %s: it receives no pods with a bound until Connected", p.Connection)
		case p.LatencyClass == "":
			r.warn("peer "+p.ClusterID, "is xr-webhook's observer running? kubectl xr doctor checks xr-webhook above", "connected but not labelled with a latency class")
		default:
			r.ok("peer "+p.ClusterID, "connected, RTT %s, class %s", orDash(p.RTT), p.LatencyClass)
		}
	}
}

func checkNamespaces(ctx context.Context, c client.Client, r *report) {
	var nss corev1.NamespaceList
	if err := c.List(ctx, &nss, client.MatchingLabels{policy.LabelEnabled: "true"}); err != nil {
		r.fail("namespaces", "", "%v", err)
		return
	}
	if len(nss.Items) == 0 {
		r.warn("namespaces", "kubectl xr offload NAMESPACE", "none opted in to latency placement")
		return
	}
	for _, ns := range nss.Items {
		no := &offloadingv1beta1.NamespaceOffloading{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: xrkube.NamespaceOffloadingName}, no); err != nil {
			r.warn("namespace "+ns.Name, "kubectl xr offload "+ns.Name, "opted in but not offloaded with Liqo: its pods stay local")
			continue
		}
		r.ok("namespace "+ns.Name, "offloaded (%s), default class %s", orDash(string(no.Spec.PodOffloadingStrategy)),
			orDash(ns.Annotations[policy.AnnotationLatencyClass]))
	}
}
