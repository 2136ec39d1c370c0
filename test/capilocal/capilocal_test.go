package capilocal_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/clientcmd"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/kubeconfig"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/test/capilocal"
	"github.com/kubexr/kubectl-xr/test/sandbox"
)

const provisionTimeout = 3 * time.Minute

// TestClusterAPIProvisionsPeersAndTearsDownLocalClusters: Cluster API's real core manager
// and the local provider bring two Clusters to Provisioned (nothing here writes a Cluster's
// status), its webhooks and conversion are served, kubectl xr peer add --capi-selector peers
// the labelled one through Liqo, and deleting the other stops its control plane.
func TestClusterAPIProvisionsPeersAndTearsDownLocalClusters(t *testing.T) {
	ctx := context.Background()
	sb, mgmt, provider := startManagement(t)

	if err := mgmt.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fleet"}}); err != nil {
		t.Fatal(err)
	}
	// Cluster API's validating webhook answers: a Cluster with nothing to provision it.
	bare := &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "nothing"},
		Spec: clusterv1.ClusterSpec{ControlPlaneEndpoint: clusterv1.APIEndpoint{Host: "127.0.0.1", Port: 6443}}}
	if err := mgmt.Client.Create(ctx, bare); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "one of spec.controlPlaneRef, spec.infrastructureRef or spec.topology must be set") {
		t.Fatalf("creating a Cluster with no references: %v, want Cluster API's webhook to deny it", err)
	}

	created := time.Now()
	for _, c := range []struct {
		name   string
		labels map[string]string
		cp     capilocal.ControlPlane
	}{
		{"edge-athens", map[string]string{"kubexr.io/peer": "true"}, capilocal.ControlPlane{Liqo: true, Kwok: true}},
		{"edge-rome", nil, capilocal.ControlPlane{}},
	} {
		for _, obj := range capilocal.ClusterObjects("fleet", c.name, c.labels, c.cp) {
			if err := mgmt.Client.Create(ctx, obj); err != nil {
				t.Fatalf("create %T %s: %v", obj, c.name, err)
			}
		}
	}
	for _, name := range []string{"edge-athens", "edge-rome"} {
		waitProvisioned(t, mgmt, name)
		t.Logf("%s Provisioned, with its remote connection probed, %s after its Cluster was created", name, time.Since(created).Round(time.Millisecond))
	}

	// Cluster API copied the control plane's endpoint, owns the provider's objects, and
	// reached the workload cluster with the kubeconfig Secret the provider wrote.
	athens := provider.Running("fleet", "edge-athens")
	if athens == nil {
		t.Fatal("the provider runs no control plane for edge-athens")
	}
	cluster := &clusterv1.Cluster{}
	if err := mgmt.Client.Get(ctx, client.ObjectKey{Namespace: "fleet", Name: "edge-athens"}, cluster); err != nil {
		t.Fatal(err)
	}
	if ep := cluster.Spec.ControlPlaneEndpoint; "https://"+ep.Host+":"+strconv.Itoa(int(ep.Port)) != athens.Server {
		t.Errorf("Cluster endpoint = %s:%d, want the control plane's %s", ep.Host, ep.Port, athens.Server)
	}
	cp := &unstructured.Unstructured{}
	cp.SetGroupVersionKind(capilocal.LocalControlPlaneGVK)
	if err := mgmt.Client.Get(ctx, client.ObjectKey{Namespace: "fleet", Name: "edge-athens"}, cp); err != nil {
		t.Fatal(err)
	}
	if owners := cp.GetOwnerReferences(); len(owners) != 1 || owners[0].Kind != "Cluster" || owners[0].UID != cluster.UID ||
		cp.GetLabels()[clusterv1.ClusterNameLabel] != "edge-athens" {
		t.Errorf("LocalControlPlane owners %v labels %v: want Cluster API's owner reference and cluster-name label", owners, cp.GetLabels())
	}
	data, err := kubeconfig.FromSecret(ctx, mgmt.Client, client.ObjectKey{Namespace: "fleet", Name: "edge-athens"})
	if err != nil {
		t.Fatal(err)
	}
	restCfg, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	workload, err := client.New(restCfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := workload.Get(ctx, client.ObjectKey{Name: "kube-system"}, &corev1.Namespace{}); err != nil {
		t.Errorf("the kubeconfig Secret does not reach the workload cluster: %v", err)
	}

	// Conversion is served too: the same Cluster read as v1beta1.
	old := &unstructured.Unstructured{}
	old.SetAPIVersion("cluster.x-k8s.io/v1beta1")
	old.SetKind("Cluster")
	if err := mgmt.Client.Get(ctx, client.ObjectKey{Namespace: "fleet", Name: "edge-athens"}, old); err != nil {
		t.Fatalf("read the Cluster as v1beta1 (conversion webhook): %v", err)
	}
	if phase, _, _ := unstructured.NestedString(old.Object, "status", "phase"); phase != "Provisioned" {
		t.Errorf("v1beta1 Cluster phase = %q, want Provisioned", phase)
	}

	// kubectl xr peer add --capi-selector peers the labelled Cluster through Liqo.
	bin := buildKubectlXR(t)
	out := runXR(t, bin, mgmt, "peer", "add", "--capi-selector", "kubexr.io/peer=true", "-n", "fleet", "--networking-disabled")
	if !strings.Contains(out, "edge-athens peered (Cluster API cluster fleet/edge-athens)") {
		t.Errorf("peer add --capi-selector printed:\n%s", out)
	}
	sandbox.Eventually(t, "edge-athens's virtual node Ready", provisionTimeout, func() (bool, string) {
		node := &corev1.Node{}
		if err := mgmt.Client.Get(ctx, client.ObjectKey{Name: "edge-athens"}, node); err != nil {
			return false, err.Error()
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, string(c.Status)
			}
		}
		return false, "no Ready condition"
	})
	if out := runXR(t, bin, mgmt, "peer", "list", "-o", "json"); !strings.Contains(out, `"capiCluster": "fleet/edge-athens"`) {
		t.Errorf("peer list does not show edge-athens's Cluster API origin:\n%s", out)
	}

	// Deleting a Cluster: Cluster API deletes the control plane object, the provider stops
	// its processes and removes its kubeconfig, then Cluster API lets the Cluster go.
	rome := provider.Running("fleet", "edge-rome")
	if rome == nil {
		t.Fatal("the provider runs no control plane for edge-rome")
	}
	if err := mgmt.Client.Delete(ctx, &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "edge-rome"}}); err != nil {
		t.Fatal(err)
	}
	sandbox.Eventually(t, "edge-rome's Cluster gone", provisionTimeout, func() (bool, string) {
		err := mgmt.Client.Get(ctx, client.ObjectKey{Namespace: "fleet", Name: "edge-rome"}, &clusterv1.Cluster{})
		return apierrors.IsNotFound(err), "still there"
	})
	if procs := sandbox.ProcessesMentioning(rome.Dir + string(filepath.Separator)); len(procs) > 0 {
		t.Errorf("edge-rome's processes still run after its Cluster was deleted: %v", procs)
	}
	if provider.Running("fleet", "edge-rome") != nil || sb.Cluster("edge-rome") != nil {
		t.Error("the provider still counts edge-rome as running")
	}
	err = mgmt.Client.Get(ctx, client.ObjectKey{Namespace: "fleet", Name: "edge-rome-kubeconfig"}, &corev1.Secret{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("edge-rome's kubeconfig Secret after deletion: %v, want not found", err)
	}
}

// startManagement starts a management cluster with Cluster API's real core manager and
// Liqo's control plane (it is the Liqo consumer too) and the local provider, which stops
// before the sandbox does.
func startManagement(t *testing.T) (*sandbox.Sandbox, *sandbox.Cluster, *capilocal.Provider) {
	t.Helper()
	sb := sandbox.NewForTest(t)
	mgmt := sb.StartClusterForTest(t, sandbox.ClusterOptions{Name: "mgmt", ClusterAPI: true, Liqo: true})
	provider, err := capilocal.Start(context.Background(), sb, mgmt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(provider.Stop) // before the sandbox stops (cleanups run last-in first-out)
	return sb, mgmt, provider
}

// waitProvisioned waits until Cluster API reports the Cluster Provisioned, with its
// control plane initialized and a remote connection to it.
func waitProvisioned(t *testing.T, mgmt *sandbox.Cluster, name string) {
	t.Helper()
	sandbox.Eventually(t, name+" Provisioned by Cluster API", provisionTimeout, func() (bool, string) {
		c := &clusterv1.Cluster{}
		if err := mgmt.Client.Get(context.Background(), client.ObjectKey{Namespace: "fleet", Name: name}, c); err != nil {
			return false, err.Error()
		}
		if c.Status.Phase != string(clusterv1.ClusterPhaseProvisioned) {
			return false, "phase " + c.Status.Phase
		}
		for _, cond := range []string{clusterv1.ClusterInfrastructureReadyCondition, clusterv1.ClusterControlPlaneInitializedCondition,
			clusterv1.ClusterControlPlaneAvailableCondition, clusterv1.ClusterRemoteConnectionProbeCondition} {
			if !meta.IsStatusConditionTrue(c.Status.Conditions, cond) {
				return false, cond + " not True: " + conditionsOf(c)
			}
		}
		return true, ""
	})
}

func conditionsOf(c *clusterv1.Cluster) string {
	var b strings.Builder
	for _, cond := range c.Status.Conditions {
		b.WriteString(cond.Type + "=" + string(cond.Status) + "(" + cond.Reason + ") ")
	}
	return b.String()
}

func buildKubectlXR(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kubectl-xr")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/kubectl-xr").CombinedOutput(); err != nil {
		t.Fatalf("build kubectl-xr: %v\n%s", err, out)
	}
	return bin
}

func runXR(t *testing.T, bin string, mgmt *sandbox.Cluster, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+mgmt.KubeconfigPath, "HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl xr %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}
