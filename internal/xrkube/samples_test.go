package xrkube

import (
	"testing"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubexr/kubectl-xr/policy"
)

func connection(ns, cluster string, value networkingv1beta1.ConnectionStatusValue, latency string, at time.Time) networkingv1beta1.Connection {
	return networkingv1beta1.Connection{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw-" + cluster, Labels: map[string]string{policy.LiqoRemoteClusterIDLabel: cluster}},
		Status: networkingv1beta1.ConnectionStatus{Value: value,
			Latency: networkingv1beta1.ConnectionLatency{Value: latency, Timestamp: metav1.NewTime(at)}},
	}
}

func TestTenantsOf(t *testing.T) {
	ns := func(name string, labels map[string]string) metav1.PartialObjectMetadata {
		return metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	got := TenantsOf([]metav1.PartialObjectMetadata{
		ns("liqo-tenant-edge", map[string]string{liqoTenantNamespaceLabel: "true", policy.LiqoRemoteClusterIDLabel: "edge"}),
		ns("liqo-tenant-fake", map[string]string{policy.LiqoRemoteClusterIDLabel: "cloud"}),
		ns("liqo-tenant-off", map[string]string{liqoTenantNamespaceLabel: "false", policy.LiqoRemoteClusterIDLabel: "off"}),
	})
	if len(got) != 1 || got["liqo-tenant-edge"] != "edge" {
		t.Errorf("tenants = %v, want only liqo-tenant-edge → edge", got)
	}
}

// A Connection outside the cluster's tenant namespace is not trusted, and a sample
// stamped in the future counts as taken now: it neither stays fresh forever nor hides
// the Error sample Liqo writes after it.
func TestNewestSamplesTrustsTenantNamespacesAndClampsTheFuture(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	tenants := Tenants{"liqo-tenant-edge": "edge", "liqo-tenant-cloud": "cloud"}
	conns := []networkingv1beta1.Connection{
		connection("liqo-tenant-edge", "edge", networkingv1beta1.Connected, "5ms", now.Add(time.Hour)),
		connection("liqo-tenant-cloud", "cloud", networkingv1beta1.Connected, "40ms", now.Add(-time.Second)),
		// A user's own namespace, or another cluster's tenant: ignored and reported.
		connection("team-a", "cloud", networkingv1beta1.Connected, "1ms", now),
		connection("liqo-tenant-edge", "cloud", networkingv1beta1.Connected, "1ms", now),
	}
	newest, errs := NewestSamples(conns, tenants, now)
	if len(errs) != 2 {
		t.Errorf("errors = %v, want the two untrusted Connections reported", errs)
	}
	if s := newest["cloud"]; s.RTT != 40*time.Millisecond {
		t.Errorf("cloud's sample = %+v, want its tenant namespace's 40ms", s)
	}
	edge := newest["edge"]
	if !edge.At.Equal(now) || !edge.Stamp.Equal(now.Add(time.Hour)) {
		t.Fatalf("edge's future sample: At=%s Stamp=%s, want At=now, Stamp as written", edge.At, edge.Stamp)
	}

	params := policy.DefaultSmoothing()
	classes := policy.MustDefaultClassSet()
	tr := policy.Tracker{}.Observe(edge, params, classes)
	// Re-read 10 s later, unchanged: the same sample, not a fresh one.
	later := now.Add(10 * time.Second)
	again, _ := NewestSamples(conns[:1], tenants, later)
	if tr2 := tr.Observe(again["edge"], params, classes); tr2.Samples != 1 || !tr2.LastSample.Equal(now) {
		t.Errorf("re-read future sample counted again: samples=%d last=%s", tr2.Samples, tr2.LastSample)
	}
	// Liqo's next sample (an Error, stamped by a correct clock) is not hidden.
	failed := []networkingv1beta1.Connection{connection("liqo-tenant-edge", "edge", networkingv1beta1.ConnectionError, "N/A", later)}
	next, _ := NewestSamples(failed, tenants, later)
	if tr3 := tr.Observe(next["edge"], params, classes); tr3.State != policy.LinkState(networkingv1beta1.ConnectionError) {
		t.Errorf("after a future sample, the Error sample was ignored: state %q", tr3.State)
	}
	// A lost link as Liqo v1.2.0 really writes it: Error, N/A and no timestamp. It counts,
	// as read now; it used to count as older than every sample and be ignored.
	lost := []networkingv1beta1.Connection{connection("liqo-tenant-edge", "edge", networkingv1beta1.ConnectionError, "N/A", time.Time{})}
	next, _ = NewestSamples(lost, tenants, later)
	if s := next["edge"]; !s.At.Equal(later) || s.Valid {
		t.Errorf("Error without a timestamp read at %s: sample %+v, want taken then, no RTT", later, s)
	}
	if tr4 := tr.Observe(next["edge"], params, classes); tr4.State != policy.LinkError || tr4.Measuring {
		t.Errorf("Liqo's Error without a timestamp was ignored: state %q, measuring %t", tr4.State, tr4.Measuring)
	}
	// A Connection whose status nobody has written yet is not a report: it must not hide the
	// gateway's first one, stamped before it was read.
	fresh := []networkingv1beta1.Connection{connection("liqo-tenant-edge", "edge", "", "", time.Time{})}
	empty, _ := NewestSamples(fresh, tenants, later)
	first := policy.Sample{State: policy.LinkConnected, RTT: 5 * time.Millisecond, Valid: true, At: now, Stamp: now}
	if tr5 := (policy.Tracker{}).Observe(empty["edge"], params, classes).Observe(first, params, classes); !tr5.Measuring {
		t.Errorf("an unwritten status hid the first report: %+v (empty status read as %+v)", tr5, empty["edge"])
	}
}
