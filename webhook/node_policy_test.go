package webhook_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/test/xrwebhook"
	"github.com/kubexr/kubectl-xr/webhook"
)

// xr-webhook's ClusterRole lets it patch nodes; the ValidatingAdmissionPolicy of
// manifests/policy narrows that to kubexr.io/ labels and annotations of Liqo virtual
// nodes. Checked by impersonating the ServiceAccount on the real API server.
func TestTheServiceAccountMayWriteOnlyXRMarksOnVirtualNodes(t *testing.T) {
	ctx := context.Background()
	virtual := peer(t, "t15-vap", 5*time.Millisecond)
	cfg := rest.CopyConfig(env.c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: xrwebhook.ServiceAccount,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + xrwebhook.Namespace, "system:authenticated"}}
	sa, err := client.New(cfg, client.Options{Scheme: webhook.NewScheme()})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		node   string
		mutate func(*corev1.Node)
		denied string // "" = allowed
	}{
		"a kubexr.io label on a virtual node": {node: virtual, mutate: func(n *corev1.Node) { n.Labels["kubexr.io/t15"] = "yes" }},
		"a kubexr.io annotation on a virtual node": {node: virtual, mutate: func(n *corev1.Node) {
			if n.Annotations == nil {
				n.Annotations = map[string]string{}
			}
			n.Annotations["kubexr.io/t15"] = "yes"
		}},
		"a kubexr.io label on a real node": {node: "local-1", mutate: func(n *corev1.Node) { n.Labels["kubexr.io/t15"] = "yes" },
			denied: "xr-webhook may change only Liqo virtual nodes"},
		"another label on a virtual node": {node: virtual, mutate: func(n *corev1.Node) { n.Labels["zone"] = "moved" },
			denied: "xr-webhook may change only kubexr.io/ labels"},
		"a virtual node's taints": {node: virtual, mutate: func(n *corev1.Node) { n.Spec.Taints = nil },
			denied: "xr-webhook may not change a node's spec"},
		"a real node's taints": {node: "local-2", mutate: func(n *corev1.Node) {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: "t15", Effect: corev1.TaintEffectNoSchedule})
		}, denied: "xr-webhook may change only Liqo virtual nodes"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			n := &corev1.Node{}
			if err := env.c.Client.Get(ctx, client.ObjectKey{Name: tc.node}, n); err != nil {
				t.Fatal(err)
			}
			patch := client.MergeFrom(n.DeepCopy())
			tc.mutate(n)
			err := sa.Patch(ctx, n, patch)
			switch {
			case tc.denied == "" && err != nil:
				t.Errorf("patch as xr-webhook: %v, want it allowed", err)
			case tc.denied != "" && (err == nil || !strings.Contains(err.Error(), tc.denied)):
				t.Errorf("patch as xr-webhook: %v, want it denied with %q", err, tc.denied)
			}
		})
	}
}
