package plugin_test

import (
	"context"
	"strings"
	"testing"

	liqov1beta1 "github.com/liqotech/liqo/apis/core/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
)

func TestHintAnnotatesAndClears(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "hint"}}
	if err := env.c.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "hint"}}
	if err := env.c.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	// Dry runs annotate nothing.
	for dry, want := range map[string]string{"--dry-run=client": "namespace/hint hinted (dry run)\n", "--dry-run=server": "namespace/hint hinted (server dry run)\n"} {
		if out := mustXR(t, "hint", "ns/hint", "--class", "low", dry); out != want {
			t.Errorf("hint %s: stdout = %q, want %q", dry, out, want)
		}
		dryNs := &corev1.Namespace{}
		if err := env.c.Client.Get(ctx, client.ObjectKey{Name: "hint"}, dryNs); err != nil || dryNs.Annotations[policy.AnnotationLatencyClass] != "" {
			t.Errorf("hint %s annotated the namespace: %v %v", dry, err, dryNs.Annotations)
		}
	}
	if out := mustXR(t, "hint", "ns/hint", "--class", "low", "--max-rtt", "15ms"); out != "namespace/hint hinted\n" {
		t.Errorf("stdout = %q", out)
	}
	got := &corev1.Namespace{}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Name: "hint"}, got); err != nil {
		t.Fatal(err)
	}
	if got.Annotations[policy.AnnotationLatencyClass] != "low" || got.Annotations[policy.AnnotationMaxRTT] != "15ms" {
		t.Errorf("annotations = %v", got.Annotations)
	}
	mustXR(t, "hint", "namespace/hint", "--clear")
	if err := env.c.Client.Get(ctx, client.ObjectKey{Name: "hint"}, got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{policy.AnnotationLatencyClass, policy.AnnotationMaxRTT} {
		if _, ok := got.Annotations[k]; ok {
			t.Errorf("--clear left %s", k)
		}
	}

	cases := map[string]struct {
		args []string
		want string
	}{
		"unknown class":      {[]string{"hint", "ns/hint", "--class", "fast"}, `kubexr.io/latency-class: "fast" is not a known LatencyClass (known: best-effort, interactive, low, moderate, ultra-low)`},
		"bad duration":       {[]string{"hint", "ns/hint", "--max-rtt", "soon"}, `kubexr.io/max-rtt: "soon" is not a duration (use e.g. "15ms")`},
		"bad placement":      {[]string{"hint", "ns/hint", "--placement", "edge"}, `kubexr.io/placement: "edge" is not a placement (use any, local or remote)`},
		"nothing to set":     {[]string{"hint", "ns/hint"}, "nothing to set: give --class, --max-rtt, --placement or --clear"},
		"clear and set":      {[]string{"hint", "ns/hint", "--clear", "--class", "low"}, "--clear cannot be combined"},
		"kind without hints": {[]string{"hint", "-n", "hint", "configmap/cfg", "--class", "low"}, "ConfigMap cannot carry a latency hint"},
		"missing object":     {[]string{"hint", "-n", "hint", "deploy/nope", "--class", "low"}, `deployments.apps "nope" not found`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { oneLineError(t, tc.want, tc.args...) })
	}
}

func TestClassesListsBoundsAndClustersMeetingThem(t *testing.T) {
	ctx := context.Background()
	// Nodes labelled as Liqo's virtual nodes and as xr-webhook's observer labels them.
	for id, class := range map[string]string{"t-athens": "ultra-low", "t-geneva": "interactive"} {
		// Liqo's controller-manager makes a ForeignCluster for a virtual node's cluster
		// ID; removed after the node (cleanups run last first) so later listings see only
		// the real peers.
		t.Cleanup(func() {
			_ = env.c.Client.Delete(ctx, &liqov1beta1.ForeignCluster{ObjectMeta: metav1.ObjectMeta{Name: id}})
		})
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "vk-" + id, Labels: map[string]string{
			policy.LiqoTypeLabel: policy.LiqoTypeVirtualNode, policy.LiqoRemoteClusterIDLabel: id, policy.LabelLatencyClass: class}}}
		if err := env.c.Client.Create(ctx, node); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = env.c.Client.Delete(ctx, node) })
	}
	out := mustXR(t, "classes")
	// Other peers may meet classes too (the observer labels cloud-geneva in other tests).
	want := map[string][]string{
		"ultra-low   ": {"10ms", "t-athens"},
		"low         ": {"20ms", "t-athens"},
		"interactive ": {"50ms", "t-athens,t-geneva"},
		"moderate    ": {"100ms", "t-athens,t-geneva"},
		"best-effort ": {"unbounded", "t-athens,t-geneva"},
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "NAME          MAX RTT     CLUSTERS MEETING NOW") {
		t.Fatalf("kubectl xr classes:\n%s", out)
	}
	for _, l := range lines[1:] {
		cells, ok := want[l[:12]]
		if !ok {
			t.Errorf("unexpected row %q", l)
			continue
		}
		for _, c := range cells {
			if !strings.Contains(l, c) {
				t.Errorf("row %q lacks %q", l, c)
			}
		}
		if strings.HasPrefix(l, "ultra-low") && strings.Contains(l, "t-geneva") {
			t.Errorf("t-geneva (interactive) listed as meeting ultra-low: %q", l)
		}
	}
	if out := mustXR(t, "classes", "-o", "yaml"); !strings.Contains(out, "kind: LatencyClassList") || !strings.Contains(out, "maxRTT: 20ms") {
		t.Errorf("-o yaml:\n%s", out)
	}
	if out := mustXR(t, "classes", "-o", "json"); !strings.Contains(out, `"maxRTT": "10ms"`) {
		t.Errorf("-o json:\n%s", out)
	}
	if out := mustXR(t, "classes", "-o", "wide"); !strings.Contains(out, "DESCRIPTION") || !strings.Contains(out, "5QI 89/90") {
		t.Errorf("-o wide:\n%s", out)
	}
	if out := mustXR(t, "classes", "-o", "name"); !strings.Contains(out, "latencyclass.kubexr.io/low\n") {
		t.Errorf("-o name:\n%s", out)
	}
	oneLineError(t, `unable to match a printer suitable for the output format "table", allowed formats are:`, "classes", "-o", "table")
}
