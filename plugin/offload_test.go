package plugin_test

import (
	"context"
	"strings"
	"testing"

	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kubexr/kubectl-xr/policy"
)

func TestOffloadDryRunApplyListRemove(t *testing.T) {
	ctx := context.Background()
	if err := env.c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "xr-demo"}}); err != nil {
		t.Fatal(err)
	}
	args := []string{"offload", "xr-demo", "--class", "low", "--strategy", "LocalAndRemote", "--clusters", "liqo.io/remote-cluster-id=cloud-geneva"}

	// --dry-run prints and changes nothing.
	out := mustXR(t, append(args, "--dry-run", "-o", "yaml")...)
	var printed struct {
		Items []map[string]any `json:"items"`
	}
	if err := yaml.Unmarshal([]byte(out), &printed); err != nil || len(printed.Items) != 2 {
		t.Fatalf("dry-run output is not a List of two objects (%v):\n%s", err, out)
	}
	var dry offloadingv1beta1.NamespaceOffloading
	raw, _ := yaml.Marshal(printed.Items[1])
	if err := yaml.Unmarshal(raw, &dry); err != nil {
		t.Fatal(err)
	}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Namespace: "xr-demo", Name: "offloading"}, &offloadingv1beta1.NamespaceOffloading{}); err == nil {
		t.Fatal("--dry-run created the NamespaceOffloading")
	}
	if !strings.Contains(out, "kubexr.io/enabled: \"true\"") || !strings.Contains(out, "kubexr.io/latency-class: low") {
		t.Errorf("dry-run namespace lacks the opt-in label or class:\n%s", out)
	}

	// --dry-run=server: the API server (and Liqo's webhook) judge both writes; nothing stays.
	out = mustXR(t, append(args, "--dry-run=server", "-o", "yaml")...)
	if !strings.Contains(out, "kind: NamespaceOffloading") || !strings.Contains(out, "uid: ") {
		t.Errorf("offload --dry-run=server -o yaml does not print the server's objects:\n%s", out)
	}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Namespace: "xr-demo", Name: "offloading"}, &offloadingv1beta1.NamespaceOffloading{}); !apierrors.IsNotFound(err) {
		t.Errorf("--dry-run=server left the NamespaceOffloading behind: %v", err)
	}
	untouched := &corev1.Namespace{}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Name: "xr-demo"}, untouched); err != nil || untouched.Labels[policy.LabelEnabled] != "" {
		t.Errorf("--dry-run=server labelled the namespace: %v %v", err, untouched.Labels)
	}

	// The real run: Liqo's own offload code, then the opt-in.
	if out := mustXR(t, args...); !strings.HasPrefix(out, "namespace/xr-demo offloaded (LocalAndRemote, clusters matching liqo.io/remote-cluster-id=cloud-geneva, default class low, move auto)") {
		t.Errorf("stdout = %q", out)
	}
	applied := &offloadingv1beta1.NamespaceOffloading{}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Namespace: "xr-demo", Name: "offloading"}, applied); err != nil {
		t.Fatal(err)
	}
	// What --dry-run printed is exactly what Liqo's code applied.
	if !equalJSON(t, dry.Spec, applied.Spec) {
		t.Errorf("dry-run spec %+v\napplied spec %+v", dry.Spec, applied.Spec)
	}
	if applied.Status.OffloadingPhase != offloadingv1beta1.ReadyOffloadingPhaseType {
		t.Errorf("offloading phase = %q, want Ready (Liqo offloaded to cloud-geneva)", applied.Status.OffloadingPhase)
	}
	ns := &corev1.Namespace{}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Name: "xr-demo"}, ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels[policy.LabelEnabled] != "true" || ns.Annotations[policy.AnnotationLatencyClass] != "low" ||
		ns.Annotations[policy.AnnotationMove] != "auto" {
		t.Errorf("namespace labels %v annotations %v: want enabled, class low and move auto (the --move default)", ns.Labels, ns.Annotations)
	}
	// Liqo created the twin namespace on the provider.
	if err := env.geneva.Client.Get(ctx, client.ObjectKey{Name: "xr-demo-consumer"}, &corev1.Namespace{}); err != nil {
		t.Errorf("remote namespace on cloud-geneva: %v", err)
	}

	list := mustXR(t, "offload", "list", "-A")
	for _, want := range []string{"NAMESPACE", "xr-demo", "LocalAndRemote", "liqo.io/remote-cluster-id in (cloud-geneva)", "low", "yes", "Ready"} {
		if !strings.Contains(list, want) {
			t.Errorf("offload list lacks %q:\n%s", want, list)
		}
	}

	// Like kubectl get: the current namespace without -A.
	if out, errOut, _ := kubectlXR(t, "offload", "list", "-n", "default"); out != "" ||
		errOut != "Namespace default is not offloaded (kubectl xr offload list -A lists every namespace).\n" {
		t.Errorf("offload list -n default: stdout %q stderr %q", out, errOut)
	}
	if out := mustXR(t, "offload", "list", "-n", "xr-demo", "--no-headers", "-o", "custom-columns=NS:.metadata.namespace,STRATEGY:.spec.podOffloadingStrategy"); out != "xr-demo   LocalAndRemote\n" {
		t.Errorf("offload list -n xr-demo custom-columns: %q", out)
	}
	if out := mustXR(t, "offload", "list", "-A", "-o", "json"); !strings.Contains(out, `"podOffloadingStrategy": "LocalAndRemote"`) ||
		strings.Contains(out, "managedFields") || !strings.Contains(out, `"kind": "NamespaceOffloadingList"`) {
		t.Errorf("offload list -A -o json (a NamespaceOffloadingList without managedFields):\n%s", out)
	}
	if out := mustXR(t, "offload", "list", "-A", "-o", "yaml", "--show-managed-fields"); !strings.Contains(out, "managedFields:") {
		t.Errorf("offload list -o yaml --show-managed-fields lacks them:\n%s", out)
	}
	if out := mustXR(t, "offload", "list", "-A", "-o", "name"); out != "namespaceoffloading.offloading.liqo.io/offloading\n" {
		t.Errorf("offload list -A -o name: %q", out)
	}

	if out := mustXR(t, "offload", "remove", "xr-demo", "--dry-run=server"); out != "namespace/xr-demo no longer offloaded; latency placement disabled (server dry run)\n" {
		t.Errorf("offload remove --dry-run=server: %q", out)
	}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Namespace: "xr-demo", Name: "offloading"}, &offloadingv1beta1.NamespaceOffloading{}); err != nil {
		t.Errorf("offload remove --dry-run=server removed the NamespaceOffloading: %v", err)
	}
	mustXR(t, "offload", "remove", "xr-demo")
	if err := env.c.Client.Get(ctx, client.ObjectKey{Name: "xr-demo"}, ns); err != nil {
		t.Fatal(err)
	}
	if _, ok := ns.Labels[policy.LabelEnabled]; ok {
		t.Errorf("remove left the opt-in label: %v", ns.Labels)
	}

	cases := map[string]struct {
		args []string
		want string
	}{
		"unknown strategy":     {[]string{"offload", "xr-demo", "--strategy", "Everywhere"}, `--strategy "Everywhere" is not a pod offloading strategy: use LocalAndRemote, Remote or Local`},
		"unknown class":        {[]string{"offload", "xr-demo", "--class", "fast"}, `kubexr.io/latency-class: "fast" is not a known LatencyClass`},
		"missing namespace":    {[]string{"offload", "nope"}, `namespace "nope" not found: create it first (kubectl create namespace nope)`},
		"-o without a dry run": {[]string{"offload", "xr-demo", "-o", "yaml"}, "-o yaml is only for --dry-run=client or --dry-run=server (kubectl xr offload list prints offloaded namespaces)"},
		"unknown dry run":      {[]string{"offload", "xr-demo", "--dry-run=yes"}, `Invalid dry-run value (yes). Must be "none", "server", or "client".`},
		"bad selector":         {[]string{"offload", "xr-demo", "--clusters", "a in b"}, `--clusters "a in b" is not a label selector`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { oneLineError(t, tc.want, tc.args...) })
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := yaml.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := yaml.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}
