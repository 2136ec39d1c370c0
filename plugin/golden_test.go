package plugin

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	outputv1 "github.com/kubexr/kubectl-xr/api/output/v1alpha1"
	xrv1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
	"github.com/kubexr/kubectl-xr/internal/xrkube"
	"github.com/kubexr/kubectl-xr/policy"
)

// go test ./plugin -run TestGolden -update rewrites testdata/golden from the output.
var update = flag.Bool("update", false, "rewrite plugin/testdata/golden from the current output")

// goldenNow is the clock of every golden output: AGE is counted to it.
var goldenNow = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

// golden compares got with testdata/golden/name whole (or rewrites it with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./plugin -run TestGolden -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test ./plugin -run TestGolden -update rewrites it after review)\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// listFormats are the print flags every listing is checked with, as a user types them.
var listFormats = []struct {
	name  string
	flags []string
}{
	{"table", nil},
	{"wide", []string{"-o", "wide"}},
	{"no-headers", []string{"--no-headers"}},
	{"show-labels", []string{"--show-labels"}},
	{"json", []string{"-o", "json"}},
	{"yaml", []string{"-o", "yaml"}},
	{"name", []string{"-o", "name"}},
	{"jsonpath", []string{"-o", "jsonpath={.items[*].metadata.name}"}},
	{"custom-columns", []string{"-o", "custom-columns=NAME:.metadata.name,CREATED:.metadata.creationTimestamp"}},
	{"go-template", []string{"-o", "go-template={{range .items}}{{.metadata.name}}{{\"\\n\"}}{{end}}"}},
	{"sort-by-name", []string{"--sort-by", ".metadata.name"}},
}

// printListing runs a listing's printing as its command does: the flags parsed by
// cli-runtime's print flags, then listOutput.Print with the table the command builds.
func printListing(t *testing.T, flags []string, list runtime.Object, table func() *metav1.Table) string {
	t.Helper()
	cmd := &cobra.Command{}
	o := addListOutput(cmd)
	if err := cmd.ParseFlags(flags); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := o.Print(&out, list, table); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func goldenMeta(name, namespace string, age time.Duration, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels, UID: "00000000-0000-0000-0000-000000000001",
		ResourceVersion: "42", CreationTimestamp: metav1.NewTime(goldenNow.Add(-age)),
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl-xr", Operation: metav1.ManagedFieldsOperationApply}}}
}

func TestGoldenPeerList(t *testing.T) {
	peers := []outputv1.Peer{
		{ObjectMeta: goldenMeta("edge-milan", "", 3*time.Hour, map[string]string{"liqo.io/remote-cluster-id": "edge-milan"}),
			ClusterID: "edge-milan", Role: "Provider", Connection: "Connected", RTT: "4.2ms", LatencyClass: "ultra-low",
			VirtualNodes: []string{"edge-milan"}, OffloadedNamespaces: []string{"xr"}},
		{ObjectMeta: goldenMeta("cloud-frankfurt-a-very-long-cluster-id-0123456789", "", 49*time.Hour, nil),
			ClusterID: "cloud-frankfurt-a-very-long-cluster-id-0123456789", CAPICluster: "fleet/frankfurt", ManagedBy: "xr-capi-peerer", Role: "Provider",
			Connection: "Connected", RTT: "38ms", LatencyClass: "best-effort", VirtualNodes: []string{"vk-frankfurt-1", "vk-frankfurt-2"}},
		{ObjectMeta: goldenMeta("cloud-geneva", "", 90*time.Second, nil), ClusterID: "cloud-geneva", Role: "ConsumerAndProvider",
			Connection: "Disabled"},
	}
	for _, f := range listFormats {
		t.Run(f.name, func(t *testing.T) {
			list := &outputv1.PeerList{Items: append([]outputv1.Peer(nil), peers...)}
			golden(t, "peer-list."+f.name, printListing(t, f.flags, list, func() *metav1.Table { return peerTable(list.Items, goldenNow) }))
		})
	}
}

func TestGoldenOffloadList(t *testing.T) {
	items := []offloadingv1beta1.NamespaceOffloading{
		{ObjectMeta: goldenMeta("offloading", "xr", 2*time.Hour, nil),
			Spec: offloadingv1beta1.NamespaceOffloadingSpec{NamespaceMappingStrategy: offloadingv1beta1.EnforceSameNameMappingStrategyType,
				PodOffloadingStrategy: offloadingv1beta1.LocalAndRemotePodOffloadingStrategyType,
				ClusterSelector: corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
					{Key: "liqo.io/remote-cluster-id", Operator: corev1.NodeSelectorOpIn, Values: []string{"edge-milan", "cloud-geneva"}}}}}}},
			Status: offloadingv1beta1.NamespaceOffloadingStatus{OffloadingPhase: offloadingv1beta1.ReadyOffloadingPhaseType}},
		{ObjectMeta: goldenMeta("offloading", "analytics-with-a-long-namespace-name", 26*time.Hour, nil),
			Spec: offloadingv1beta1.NamespaceOffloadingSpec{NamespaceMappingStrategy: offloadingv1beta1.DefaultNameMappingStrategyType,
				PodOffloadingStrategy: offloadingv1beta1.RemotePodOffloadingStrategyType}},
	}
	namespaces := map[string]*corev1.Namespace{
		"xr": {ObjectMeta: metav1.ObjectMeta{Name: "xr", Labels: map[string]string{policy.LabelEnabled: "true"},
			Annotations: map[string]string{policy.AnnotationLatencyClass: "low"}}},
	}
	for _, f := range listFormats {
		t.Run(f.name, func(t *testing.T) {
			list := &offloadingv1beta1.NamespaceOffloadingList{Items: append([]offloadingv1beta1.NamespaceOffloading(nil), items...)}
			golden(t, "offload-list."+f.name, printListing(t, f.flags, list, func() *metav1.Table {
				return offloadTable(list.Items, namespaces, goldenNow)
			}))
		})
	}
}

func TestGoldenClasses(t *testing.T) {
	stored := []xrv1.LatencyClass{
		{ObjectMeta: goldenMeta("ultra-low", "", time.Hour, map[string]string{"app.kubernetes.io/part-of": "kubectl-xr"}),
			Spec: xrv1.LatencyClassSpec{MaxRTT: "10ms", Description: "AR overlays, motion-to-photon critical"}},
		{ObjectMeta: goldenMeta("low", "", time.Hour, nil), Spec: xrv1.LatencyClassSpec{MaxRTT: "20ms", MoveAfter: "1m", Description: "rendering"}},
		{ObjectMeta: goldenMeta("best-effort", "", time.Hour, nil), Spec: xrv1.LatencyClassSpec{Description: "analytics"}},
	}
	meeting := map[string][]string{"ultra-low": {"edge-milan"}, "low": {"edge-milan"}, "best-effort": {"cloud-geneva", "edge-milan"}}
	for _, f := range listFormats {
		t.Run(f.name, func(t *testing.T) {
			list := &xrv1.LatencyClassList{Items: append([]xrv1.LatencyClass(nil), stored...)}
			classes, err := xrkube.ClassSet(list.Items)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "classes."+f.name, printListing(t, f.flags, list, func() *metav1.Table { return classesTable(classes, list.Items, meeting) }))
		})
	}
}

// goldenExplanations: a workload placed on an edge cluster with one pod waiting, and a
// malformed hint.
func goldenExplanations() map[string]*outputv1.Explanation {
	return map[string]*outputv1.Explanation{
		"placed": {
			Target: outputv1.ExplainedObject{Kind: "Deployment", Namespace: "xr", Name: "render"}, NamespaceEnabled: true,
			Hint: &outputv1.ExplainedHint{Class: "low", ClassMaxRTT: "20ms", BoundSource: "namespace/xr", Placement: "prefer-remote",
				PlacementSource: "deployment/render", Bound: "20ms", Move: "auto", MoveSource: "namespace/xr", MoveAfter: "30s", MoveAfterSource: "default"},
			LocalEligible: true,
			Clusters: []outputv1.ClusterVerdict{
				{Cluster: "edge-milan", RTT: "4.2ms", Eligible: true},
				{Cluster: "cloud-frankfurt-a-very-long-cluster-id-0123456789", RTT: "38ms", Reason: "over the bound 20ms"},
				{Cluster: "cloud-geneva", Reason: "no RTT measured (Liqo networking disabled or not yet connected)"},
			},
			Constraints: &outputv1.ExplainedConstraints{State: outputv1.ConstraintsWouldInject,
				RequiredTerms: []string{"liqo.io/remote-cluster-id In [edge-milan]", "kubernetes.io/hostname NotIn [] AND liqo.io/type DoesNotExist"},
				Toleration:    "virtual-node.liqo.io/not-allowed Exists NoExecute"},
			Pods: []outputv1.ExplainedPod{
				{Name: "render-7d9f8b6c5-abcde", Phase: "Running", Node: "edge-milan", Cluster: "edge-milan", RTT: "4.2ms", WithinBound: true, Verdict: "within bound"},
				{Name: "render-7d9f8b6c5-fghij", Phase: "Pending", Verdict: "admitted while no cluster qualified; waits until one does"},
			},
		},
		"malformed": {
			Target:    outputv1.ExplainedObject{Kind: "Pod", Namespace: "xr", Name: "client"},
			HintError: `kubexr.io/max-rtt "fast": not a duration (e.g. 15ms)`,
		},
		"unhinted": {Target: outputv1.ExplainedObject{Kind: "Job", Namespace: "default", Name: "batch"}},
	}
}

func TestGoldenExplain(t *testing.T) {
	for name, e := range goldenExplanations() {
		for _, format := range []string{"text", "json", "yaml"} {
			if format != "text" && name != "placed" {
				continue
			}
			t.Run(name+"/"+format, func(t *testing.T) {
				var out bytes.Buffer
				var err error
				if format == "text" {
					err = printExplanation(&out, e)
				} else {
					e.SetGroupVersionKind(outputv1.GroupVersion.WithKind("Explanation"))
					err = printObject(&out, format, e)
				}
				if err != nil {
					t.Fatal(err)
				}
				golden(t, "explain."+name+"."+format, out.String())
			})
		}
	}
}

func TestGoldenDoctor(t *testing.T) {
	r := &report{}
	r.LiqoVersion, r.Healthy = "v1.2.0", false
	r.ok("Liqo", "installed, cluster id consumer, version v1.2.0")
	r.ok("LatencyClasses", "5 defined")
	r.warn("Peers", "kubectl xr peer add", "cloud-geneva: no RTT measured (networking disabled)")
	r.fail("xr-webhook", "kubectl xr install", "not installed")
	for _, format := range []string{"text", "json", "yaml"} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			if format == "text" {
				r.print(&out)
			} else {
				r.SetGroupVersionKind(outputv1.GroupVersion.WithKind("DoctorReport"))
				if err := printObject(&out, format, &r.DoctorReport); err != nil {
					t.Fatal(err)
				}
			}
			if strings.Contains(out.String(), "managedFields") {
				t.Error("managedFields printed")
			}
			golden(t, "doctor."+format, out.String())
		})
	}
}
