package plugin_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	liqov1beta1 "github.com/liqotech/liqo/apis/core/v1beta1"
	"k8s.io/client-go/tools/clientcmd"
	capikubeconfig "sigs.k8s.io/cluster-api/util/kubeconfig"
	"sigs.k8s.io/controller-runtime/pkg/client"

	outputv1 "github.com/kubexr/kubectl-xr/api/output/v1alpha1"
	"github.com/kubexr/kubectl-xr/plugin"
)

// secretCredentials returns each credential of the kubeconfig the Cluster API provider
// wrote in fleet/<name>-kubeconfig, separately, so that any one of them leaking is caught.
func secretCredentials(t *testing.T, name string) [][]byte {
	t.Helper()
	data, err := capikubeconfig.FromSecret(context.Background(), env.c.Client, client.ObjectKey{Namespace: "fleet", Name: name})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	auth := kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo]
	var out [][]byte
	for _, c := range [][]byte{auth.ClientKeyData, auth.ClientCertificateData, []byte(auth.Token)} {
		if len(c) > 0 {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatal("the workload kubeconfig has no credential to look for")
	}
	return out
}

func TestPeerFromKubeconfigAndClusterAPIListAndRemove(t *testing.T) {
	ctx := context.Background()
	// TestMain peered cloud-geneva from its kubeconfig file with kubectl xr peer add.
	if !strings.Contains(env.genevaPeerOutput, "cloud-geneva peered ("+env.geneva.KubeconfigPath+")") ||
		!strings.Contains(env.genevaPeerOutput, "Peering with cloud-geneva") {
		t.Errorf("peer add --remote-kubeconfig printed:\n%s", env.genevaPeerOutput)
	}
	// Again: a no-op that says so.
	if out := mustXR(t, "peer", "add", "--remote-kubeconfig", env.geneva.KubeconfigPath, "--networking-disabled"); out !=
		"cloud-geneva ("+env.geneva.KubeconfigPath+") already peered, skipped\n" {
		t.Errorf("peer add again stdout = %q", out)
	}

	// This cluster is the management cluster too: Cluster API's real controllers
	// provisioned fleet/edge-athens and fleet/cloud-geneva (TestMain); fleet/edge-pending
	// is still provisioning. Each cluster's client key, certificate and token (what it has).
	var keys [][]byte
	for _, name := range []string{"edge-athens", "cloud-geneva"} {
		keys = append(keys, secretCredentials(t, name)...)
	}

	// Whatever the command writes under HOME or TMPDIR is checked for the credentials.
	home, tmp := t.TempDir(), t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("TMPDIR", tmp)
	out, errOut, err := kubectlXR(t, "peer", "add", "--capi-selector", "tier=edge", "-n", "fleet", "--networking-disabled")
	if err != nil {
		t.Fatalf("peer add --capi-selector: %v\n%s", err, errOut)
	}
	if want := "cloud-geneva (Cluster API cluster fleet/cloud-geneva) already peered, skipped\n" +
		"edge-athens peered (Cluster API cluster fleet/edge-athens)\n"; out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	if !strings.Contains(errOut, `Skipping Cluster API cluster fleet/edge-pending: phase is "Provisioning", not Provisioned`) {
		t.Errorf("stderr lacks the skipped cluster:\n%s", errOut)
	}
	// The workload kubeconfigs' credentials are never printed nor written to disk.
	var written strings.Builder
	for _, dir := range []string{home, tmp} {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				data, _ := os.ReadFile(path)
				written.Write(data)
			}
			return nil
		})
	}
	for _, key := range keys {
		for _, secret := range []string{string(key), base64.StdEncoding.EncodeToString(key)} {
			if strings.Contains(out+errOut, secret) {
				t.Fatal("a workload cluster's credential appeared in the output")
			}
			if strings.Contains(written.String(), secret) {
				t.Fatal("a workload cluster's credential was written to disk")
			}
		}
	}
	if _, err := env.c.WaitNodeReady(ctx, "edge-athens"); err != nil {
		t.Fatal(err)
	}
	fc := &liqov1beta1.ForeignCluster{}
	if err := env.c.Client.Get(ctx, client.ObjectKey{Name: "edge-athens"}, fc); err != nil {
		t.Fatal(err)
	}
	if fc.Annotations[plugin.AnnotationCAPICluster] != "fleet/edge-athens" {
		t.Errorf("ForeignCluster annotations = %v", fc.Annotations)
	}
	if out := mustXR(t, "peer", "add", "--capi-cluster", "fleet/edge-athens"); out !=
		"edge-athens (Cluster API cluster fleet/edge-athens) already peered, skipped\n" {
		t.Errorf("peer add --capi-cluster again: %q", out)
	}

	list := mustXR(t, "peer", "list")
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if !strings.HasPrefix(lines[0], "CLUSTER ID     CAPI CLUSTER        CONNECTION") {
		t.Fatalf("peer list:\n%s", list)
	}
	for _, want := range [][]string{{"cloud-geneva", "<none>", "cloud-geneva"}, {"edge-athens", "fleet/edge-athens", "Disabled", "edge-athens"}} {
		row := ""
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, want[0]+" ") {
				row = l
			}
		}
		for _, cell := range want {
			if !strings.Contains(row, cell) {
				t.Errorf("peer list row for %s lacks %q:\n%s", want[0], cell, list)
			}
		}
	}
	if out := mustXR(t, "peer", "list", "-o", "json"); !strings.Contains(out, `"capiCluster": "fleet/edge-athens"`) {
		t.Errorf("peer list -o json:\n%s", out)
	}
	if out := mustXR(t, "peer", "list", "-o", "yaml"); !strings.Contains(out, "clusterID: edge-athens") {
		t.Errorf("peer list -o yaml:\n%s", out)
	}
	// kubectl's printers, whole output compared.
	golden := map[string]struct {
		args []string
		want string
	}{
		"jsonpath": {[]string{"-o", "jsonpath={.items[*].clusterID}"}, "cloud-geneva edge-athens"},
		"custom-columns sorted by name": {[]string{"-o", "custom-columns=ID:.clusterID,CAPI:.capiCluster,NODES:.virtualNodes[*]",
			"--sort-by", "{.metadata.name}"}, "ID             CAPI                NODES\n" +
			"cloud-geneva                       cloud-geneva\n" +
			"edge-athens    fleet/edge-athens   edge-athens\n"},
		"custom-columns without headers": {[]string{"-o", "custom-columns=ID:.clusterID", "--no-headers"}, "cloud-geneva\nedge-athens\n"},
		"go-template":                    {[]string{"-o", "go-template={{range .items}}{{.clusterID}}={{.kind}} {{end}}"}, "cloud-geneva=Peer edge-athens=Peer "},
		"name":                           {[]string{"-o", "name"}, "peer.kubexr.io/cloud-geneva\npeer.kubexr.io/edge-athens\n"},
	}
	for name, tc := range golden {
		if out := mustXR(t, append([]string{"peer", "list"}, tc.args...)...); out != tc.want {
			t.Errorf("peer list %s (%s):\n got %q\nwant %q", strings.Join(tc.args, " "), name, out, tc.want)
		}
	}
	var asJSON outputv1.PeerList
	if err := json.Unmarshal([]byte(mustXR(t, "peer", "list", "-o", "json")), &asJSON); err != nil ||
		asJSON.APIVersion != "kubexr.io/v1alpha1" || asJSON.Kind != "PeerList" || len(asJSON.Items) != 2 ||
		asJSON.Items[1].Kind != "Peer" || asJSON.Items[1].Name != "edge-athens" || asJSON.Items[1].CreationTimestamp.IsZero() {
		t.Errorf("peer list -o json is not a kubexr.io/v1alpha1 PeerList of two Peers: %v %+v", err, asJSON)
	}
	noHeaders := strings.Fields(mustXR(t, "peer", "list", "--no-headers", "--sort-by", ".clusterID"))
	if len(noHeaders) == 0 || noHeaders[0] != "cloud-geneva" || slices.Contains(noHeaders, "CLUSTER") {
		t.Errorf("peer list --no-headers: %q", noHeaders)
	}

	// Unpeer through Liqo's code, with the kubeconfig read again from Cluster API.
	if out := mustXR(t, "peer", "remove", "edge-athens"); out != "edge-athens unpeered\n" {
		t.Errorf("peer remove stdout = %q", out)
	}
	if err := env.c.WaitNodeGone(ctx, "edge-athens"); err != nil {
		t.Error(err)
	}

	cases := map[string]struct {
		args []string
		want string
	}{
		"no provider":       {[]string{"peer", "add"}, "give exactly one of --remote-kubeconfig, --capi-cluster or --capi-selector"},
		"two providers":     {[]string{"peer", "add", "--capi-cluster", "a", "--capi-selector", "b=c"}, "give exactly one of"},
		"unknown cluster":   {[]string{"peer", "add", "--capi-cluster", "fleet/nope"}, "Cluster API cluster fleet/nope not found on the management cluster"},
		"not provisioned":   {[]string{"peer", "add", "--capi-cluster", "fleet/edge-pending"}, `Cluster API cluster fleet/edge-pending is not ready to peer: phase is "Provisioning", not Provisioned`},
		"no match":          {[]string{"peer", "add", "--capi-selector", "tier=core", "-n", "fleet"}, `no Cluster API cluster in namespace fleet matches "tier=core" (use -n NAMESPACE, or -A for every namespace)`},
		"-A alone":          {[]string{"peer", "add", "--capi-cluster", "fleet/edge-athens", "-A"}, "-A/--all-namespaces goes with --capi-selector only"},
		"missing file":      {[]string{"peer", "add", "--remote-kubeconfig", "/nonexistent/kubeconfig"}, "--remote-kubeconfig /nonexistent/kubeconfig"},
		"nothing to remove": {[]string{"peer", "remove", "nowhere"}, `no peered cluster "nowhere" (kubectl xr peer list)`},
		"provider's Liqo elsewhere": {[]string{"peer", "add", "--remote-kubeconfig", env.geneva.KubeconfigPath, "--remote-liqo-namespace", "elsewhere"},
			"read the provider's Liqo cluster id (is Liqo installed there?)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) { oneLineError(t, tc.want, tc.args...) })
	}
}
