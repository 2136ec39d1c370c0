package capipeer

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/kubexr/kubectl-xr/internal/peering"
)

func TestClusterOptions(t *testing.T) {
	defaults := peering.Options{LiqoNamespace: "liqo", CPU: "1"}
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		want        peering.Options
		errs        string
	}{
		{"none: the defaults, Liqo's gateway service type", nil,
			peering.Options{LiqoNamespace: "liqo", CPU: "1", GatewayServiceType: "LoadBalancer"}, ""},
		{"every option", map[string]string{AnnotationCPU: "4", AnnotationMemory: "8Gi", AnnotationPods: "110",
			AnnotationNetworking: "disabled", AnnotationGatewayServiceType: "NodePort"},
			peering.Options{LiqoNamespace: "liqo", CPU: "4", Memory: "8Gi", Pods: "110", NetworkingDisabled: true, GatewayServiceType: "NodePort"}, ""},
		{"networking enabled explicitly", map[string]string{AnnotationNetworking: "enabled"},
			peering.Options{LiqoNamespace: "liqo", CPU: "1", GatewayServiceType: "LoadBalancer"}, ""},
		{"every mistake, each named, in field order", map[string]string{AnnotationCPU: "four", AnnotationNetworking: "off",
			AnnotationGatewayServiceType: "Ingress", AnnotationPods: "-4"}, peering.Options{},
			`[metadata.annotations[kubexr.io/peer-cpu]: Invalid value: "four": must be a non-negative quantity, e.g. 4, 500m, 8Gi, ` +
				`metadata.annotations[kubexr.io/peer-gateway-service-type]: Unsupported value: "Ingress": supported values: "LoadBalancer", "NodePort", "ClusterIP", ` +
				`metadata.annotations[kubexr.io/peer-networking]: Unsupported value: "off": supported values: "enabled", "disabled", ` +
				`metadata.annotations[kubexr.io/peer-pods]: Invalid value: "-4": must be a non-negative quantity, e.g. 4, 500m, 8Gi]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := ClusterOptions(tc.annotations, defaults)
			if tc.errs != "" {
				if agg := errs.ToAggregate(); agg == nil || agg.Error() != tc.errs {
					t.Errorf("errors:\n%v\nwant:\n%s", agg, tc.errs)
				}
				return
			}
			if len(errs) > 0 || got != tc.want {
				t.Errorf("ClusterOptions = %+v, %v; want %+v", got, errs, tc.want)
			}
		})
	}
}

func TestSelected(t *testing.T) {
	sel, _ := labels.Parse(DefaultSelector)
	now := metav1.Now()
	for _, tc := range []struct {
		name       string
		namespaces []string
		cluster    clusterv1.Cluster
		want       bool
	}{
		{"labelled", nil, cluster("fleet", map[string]string{"kubexr.io/peer": "true"}, nil), true},
		{"labelled false", nil, cluster("fleet", map[string]string{"kubexr.io/peer": "false"}, nil), false},
		{"unlabelled", nil, cluster("fleet", nil, nil), false},
		{"labelled, being deleted", nil, cluster("fleet", map[string]string{"kubexr.io/peer": "true"}, &now), false},
		{"labelled, in a watched namespace", []string{"fleet"}, cluster("fleet", map[string]string{"kubexr.io/peer": "true"}, nil), true},
		{"labelled, in another namespace", []string{"edge"}, cluster("fleet", map[string]string{"kubexr.io/peer": "true"}, nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Reconciler{Selector: sel, Namespaces: tc.namespaces}
			if got := r.Selected(&tc.cluster); got != tc.want {
				t.Errorf("Selected = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRelevantChange: Cluster API's frequent status rewrites do not wake the controller;
// what changes its decision does.
func TestRelevantChange(t *testing.T) {
	base := cluster("fleet", map[string]string{"kubexr.io/peer": "true"}, nil)
	base.Status.Phase = string(clusterv1.ClusterPhaseProvisioned)
	base.Status.Conditions = []metav1.Condition{{Type: clusterv1.ClusterControlPlaneAvailableCondition, Status: metav1.ConditionTrue}}
	p := relevantChange()
	for _, tc := range []struct {
		name   string
		change func(*clusterv1.Cluster)
		want   bool
	}{
		{"another condition's heartbeat", func(c *clusterv1.Cluster) {
			c.Status.Conditions = append(c.Status.Conditions, metav1.Condition{Type: clusterv1.ClusterRemoteConnectionProbeCondition, Status: metav1.ConditionTrue})
		}, false},
		{"label removed", func(c *clusterv1.Cluster) { c.Labels = nil }, true},
		{"annotation changed", func(c *clusterv1.Cluster) { c.Annotations = map[string]string{AnnotationCPU: "2"} }, true},
		{"deletion started", func(c *clusterv1.Cluster) { now := metav1.Now(); c.DeletionTimestamp = &now }, true},
		{"control plane unavailable", func(c *clusterv1.Cluster) { c.Status.Conditions[0].Status = metav1.ConditionFalse }, true},
		{"finalizer removed", func(c *clusterv1.Cluster) { c.Finalizers = []string{"other"} }, true},
		{"our condition removed by someone", func(c *clusterv1.Cluster) {
			c.Status.Conditions = append(c.Status.Conditions, metav1.Condition{Type: ConditionPeered, Status: metav1.ConditionTrue, Reason: ReasonPeered})
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cur := base.DeepCopy()
			tc.change(cur)
			if got := p.Update(event.UpdateEvent{ObjectOld: base.DeepCopy(), ObjectNew: cur}); got != tc.want {
				t.Errorf("reconcile on %s: %v, want %v", tc.name, got, tc.want)
			}
		})
	}
}

func cluster(ns string, l map[string]string, deleted *metav1.Time) clusterv1.Cluster {
	return clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "edge", Labels: l, DeletionTimestamp: deleted}}
}
