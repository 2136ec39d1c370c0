package plugin_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/test/capilocal"
)

// capiClusterWithKubeconfig writes a Cluster whose status says provisioned (or still
// provisioning) in ns, labelled labels, with kubeconfig as its Secret. It is a STAND-IN for
// Cluster API's controllers, on purpose: given a hostile Secret, Cluster API's own
// ClusterCache would load it with client-go's clientcmd, which runs exec credential
// plugins, so the marker below could no longer tell whether kubectl xr ran one. The
// Cluster is paused (Cluster API leaves a paused Cluster's status alone) and never says
// its infrastructure is provisioned (Cluster API connects to a cluster only then); its
// references name objects that do not exist (Cluster API's webhook wants some).
func capiClusterWithKubeconfig(t *testing.T, ns, name string, labels map[string]string, provisioned bool, kubeconfig *clientcmdapi.Config) {
	t.Helper()
	ctx := context.Background()
	_ = env.c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	c := capilocal.Cluster(ns, name, labels)
	c.Spec.Paused = ptr.To(true)
	if err := env.c.Client.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	// A merge patch: Cluster API may already have written its Paused condition.
	patch := client.MergeFrom(c.DeepCopy())
	c.Status.Phase = string(clusterv1.ClusterPhaseProvisioning)
	if provisioned {
		c.Status.Phase = string(clusterv1.ClusterPhaseProvisioned)
		c.Status.Conditions = []metav1.Condition{{Type: clusterv1.ClusterControlPlaneAvailableCondition, Status: metav1.ConditionTrue,
			Reason: "Available", LastTransitionTime: metav1.Now()}}
	}
	if err := env.c.Client.Status().Patch(ctx, c, patch); err != nil {
		t.Fatal(err)
	}
	if kubeconfig == nil {
		return
	}
	data, err := clientcmd.Write(*kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.c.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-kubeconfig", Namespace: ns, Labels: map[string]string{clusterv1.ClusterNameLabel: name}},
		Type:       "cluster.x-k8s.io/secret", Data: map[string][]byte{"value": data},
	}); err != nil {
		t.Fatal(err)
	}
}

// Whoever can write a Cluster API kubeconfig Secret must not be able to run a command on
// the operator's machine, nor make kubectl xr read its files: such kubeconfigs are
// refused in one line, before anything runs.
func TestCAPIKubeconfigSecretsCannotRunCommands(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "exec-ran")
	kubeconfig := func(mutate func(*clientcmdapi.AuthInfo, *clientcmdapi.Cluster)) *clientcmdapi.Config {
		kc, err := env.athens.Kubeconfig()
		if err != nil {
			t.Fatal(err)
		}
		ctx := kc.Contexts[kc.CurrentContext]
		mutate(kc.AuthInfos[ctx.AuthInfo], kc.Clusters[ctx.Cluster])
		return kc
	}
	cases := map[string]struct {
		mutate func(*clientcmdapi.AuthInfo, *clientcmdapi.Cluster)
		want   string
	}{
		"exec": {func(a *clientcmdapi.AuthInfo, _ *clientcmdapi.Cluster) {
			a.ClientKeyData, a.ClientCertificateData = nil, nil
			a.Exec = &clientcmdapi.ExecConfig{APIVersion: "client.authentication.k8s.io/v1", Command: "/bin/sh",
				Args: []string{"-c", "touch " + marker}, InteractiveMode: clientcmdapi.NeverExecInteractiveMode}
		}, "has an exec credential plugin, which kubectl xr and xr-capi-peerer never run"},
		"auth-provider": {func(a *clientcmdapi.AuthInfo, _ *clientcmdapi.Cluster) {
			a.AuthProvider = &clientcmdapi.AuthProviderConfig{Name: "oidc", Config: map[string]string{"idp-issuer-url": "https://127.0.0.1:1"}}
		}, "has an auth-provider, which kubectl xr and xr-capi-peerer never load"},
		"token file": {func(a *clientcmdapi.AuthInfo, _ *clientcmdapi.Cluster) {
			a.TokenFile = "/etc/hostname"
		}, "names credential files, which kubectl xr and xr-capi-peerer never read from a Secret's kubeconfig"},
		"CA file": {func(_ *clientcmdapi.AuthInfo, c *clientcmdapi.Cluster) {
			c.CertificateAuthorityData, c.CertificateAuthority = nil, "/etc/ssl/certs/ca-certificates.crt"
		}, "names a CA file"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cluster := "hostile-" + strings.ToLower(strings.ReplaceAll(name, " ", "-"))
			capiClusterWithKubeconfig(t, "fleet-sec", cluster, nil, true, kubeconfig(tc.mutate))
			oneLineError(t, "error: the kubeconfig Secret of Cluster API cluster fleet-sec/"+cluster+": ", "peer", "add", "--capi-cluster", "fleet-sec/"+cluster)
			oneLineError(t, tc.want, "peer", "add", "--capi-cluster", "fleet-sec/"+cluster)
		})
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the exec credential plugin of a Secret's kubeconfig ran on this machine")
	}
}

// --capi-selector looks in the management cluster's current (or -n) namespace only; -A
// widens it to every namespace.
func TestCAPISelectorStaysInItsNamespaceWithoutA(t *testing.T) {
	capiClusterWithKubeconfig(t, "fleet-far", "far-away", map[string]string{"tier": "far"}, false, nil)
	oneLineError(t, `no Cluster API cluster in namespace default matches "tier=far" (use -n NAMESPACE, or -A for every namespace)`,
		"peer", "add", "--capi-selector", "tier=far")
	_, errOut, err := kubectlXR(t, "peer", "add", "--capi-selector", "tier=far", "-A")
	if err != nil || !strings.Contains(errOut, `Skipping Cluster API cluster fleet-far/far-away: phase is "Provisioning", not Provisioned`) {
		t.Errorf("peer add --capi-selector tier=far -A: err=%v stderr=%q; want the cluster in fleet-far found (and skipped)", err, errOut)
	}
}
