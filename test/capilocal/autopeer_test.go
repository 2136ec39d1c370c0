package capilocal_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	liqov1beta1 "github.com/liqotech/liqo/apis/core/v1beta1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/kubeconfig"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/internal/capipeer"
	"github.com/kubexr/kubectl-xr/manifests"
	"github.com/kubexr/kubectl-xr/test/capilocal"
	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// peererServiceAccount is whom the test's xr-capi-peerer acts as: the ServiceAccount of
// manifests/capi, with only the rights its RBAC gives.
const peererServiceAccount = "system:serviceaccount:kubexr-system:xr-capi-peerer"

// TestXRCAPIPeererPeersAndUnpeersClusterAPIClusters: the xr-capi-peerer binary, acting as
// its ServiceAccount with manifests/capi's RBAC, peers the labelled Clusters Cluster API
// provisions (and not the unlabelled one), records the kubexr.io/Peered condition, Events
// and counters, unpeers a deleted Cluster while Cluster API stops its control plane, peers
// a Cluster once labelled (after refusing its invalid peering annotation) and unpeers a
// de-labelled one on both sides.
func TestXRCAPIPeererPeersAndUnpeersClusterAPIClusters(t *testing.T) {
	ctx := context.Background()
	sb, mgmt, provider := startManagement(t)
	if err := mgmt.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "fleet"}}); err != nil {
		t.Fatal(err)
	}
	metricsPort := startPeerer(t, mgmt, "fleet")

	peer := map[string]string{"kubexr.io/peer": "true"}
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{{"edge-athens", peer}, {"edge-rome", peer}, {"edge-oslo", nil}} {
		for _, obj := range capilocal.ClusterObjects("fleet", c.name, c.labels, capilocal.ControlPlane{Liqo: true, Kwok: true}) {
			if cl, ok := obj.(*clusterv1.Cluster); ok {
				// This test bed runs no Liqo gateways for peerings made by liqoctl's code.
				cl.Annotations = map[string]string{capipeer.AnnotationNetworking: "disabled"}
			}
			if err := mgmt.Client.Create(ctx, obj); err != nil {
				t.Fatalf("create %T %s: %v", obj, c.name, err)
			}
		}
	}
	for _, name := range []string{"edge-athens", "edge-rome"} {
		waitPeered(t, mgmt, name)
	}
	for _, name := range []string{"edge-athens", "edge-rome"} {
		waitNodeReady(t, mgmt, name)
		c := getCluster(t, mgmt, name)
		if !containsString(c.Finalizers, capipeer.Finalizer) || c.Annotations[capipeer.AnnotationClusterID] != name {
			t.Errorf("%s: finalizers %v, annotations %v: want %s and the Liqo cluster id", name, c.Finalizers, c.Annotations, capipeer.Finalizer)
		}
		if !hasEvent(t, mgmt, name, capipeer.ReasonPeered) {
			t.Errorf("%s: no %s Event", name, capipeer.ReasonPeered)
		}
	}
	waitProvisionedOnly(t, mgmt, "edge-oslo")
	oslo := getCluster(t, mgmt, "edge-oslo")
	if containsString(oslo.Finalizers, capipeer.Finalizer) || meta.FindStatusCondition(oslo.Status.Conditions, capipeer.ConditionPeered) != nil {
		t.Errorf("the unlabelled edge-oslo was touched: finalizers %v, conditions %s", oslo.Finalizers, conditionsOf(oslo))
	}
	if err := mgmt.Client.Get(ctx, client.ObjectKey{Name: "edge-oslo"}, &liqov1beta1.ForeignCluster{}); !apierrors.IsNotFound(err) {
		t.Errorf("the unlabelled edge-oslo has a ForeignCluster (%v)", err)
	}

	// Liqo's real gateways for one automatic peering (the harness runs them, as for every
	// peering here: xr-capi-peerer peered without networking), so its connection is reported.
	connected := sandbox.GatewaySupport() == nil
	if connected {
		if _, err := mgmt.ConnectGateways(ctx, sb.Cluster("edge-athens"), sandbox.GatewayOptions{RTT: 8 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Logf("edge-athens's connection is not reported here: %v", sandbox.GatewaySupport())
	}

	bin := buildKubectlXR(t)
	out := runXR(t, bin, mgmt, "peer", "list", "-o", "json")
	if connected && peerConnection(t, out, "edge-athens") != "Connected" {
		t.Errorf("peer list does not show edge-athens Connected:\n%s", out)
	}
	for _, name := range []string{"edge-athens", "edge-rome"} {
		if !strings.Contains(out, `"capiCluster": "fleet/`+name+`"`) {
			t.Errorf("peer list does not show %s's Cluster API origin:\n%s", name, out)
		}
	}
	if n := strings.Count(out, `"managedBy": "xr-capi-peerer"`); n != 2 {
		t.Errorf("peer list shows %d peers managed by xr-capi-peerer, want 2:\n%s", n, out)
	}

	// Deleting a peered Cluster: Cluster API stops its control plane while xr-capi-peerer
	// unpeers it; the Cluster goes once both are done.
	rome := provider.Running("fleet", "edge-rome")
	if err := mgmt.Client.Delete(ctx, &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "edge-rome"}}); err != nil {
		t.Fatal(err)
	}
	sandbox.Eventually(t, "edge-rome's Cluster gone", provisionTimeout, func() (bool, string) {
		err := mgmt.Client.Get(ctx, client.ObjectKey{Namespace: "fleet", Name: "edge-rome"}, &clusterv1.Cluster{})
		return apierrors.IsNotFound(err), "still there"
	})
	waitUnpeered(t, mgmt, "edge-rome")
	if procs := sandbox.ProcessesMentioning(rome.Dir + string(filepath.Separator)); len(procs) > 0 {
		t.Errorf("edge-rome's processes still run after its Cluster was deleted: %v", procs)
	}

	// An invalid peering annotation is refused with the reason on the Cluster; once
	// mended, the newly labelled Cluster is peered.
	patchCluster(t, mgmt, "edge-oslo", func(c *clusterv1.Cluster) {
		c.Labels = peer
		c.Annotations[capipeer.AnnotationGatewayServiceType] = "Ingress"
	})
	waitCondition(t, mgmt, "edge-oslo", metav1.ConditionFalse, capipeer.ReasonInvalidOptions, `Unsupported value: "Ingress"`)
	patchCluster(t, mgmt, "edge-oslo", func(c *clusterv1.Cluster) {
		c.Annotations[capipeer.AnnotationGatewayServiceType] = "NodePort"
	})
	waitPeered(t, mgmt, "edge-oslo")
	waitNodeReady(t, mgmt, "edge-oslo")

	// Removing the label unpeers on both sides and lets the Cluster go its way.
	patchCluster(t, mgmt, "edge-athens", func(c *clusterv1.Cluster) { delete(c.Labels, "kubexr.io/peer") })
	waitCondition(t, mgmt, "edge-athens", metav1.ConditionFalse, capipeer.ReasonUnpeered, "edge-athens unpeered")
	waitUnpeered(t, mgmt, "edge-athens")
	sandbox.Eventually(t, "edge-athens without "+capipeer.Finalizer+" once unpeered", provisionTimeout, func() (bool, string) {
		c := getCluster(t, mgmt, "edge-athens")
		return !containsString(c.Finalizers, capipeer.Finalizer), fmt.Sprintf("finalizers %v", c.Finalizers)
	})

	// Nothing of a kubeconfig Secret's credentials reaches xr-capi-peerer's log.
	assertNoCredentialLogged(t, mgmt, "edge-oslo", filepath.Join(mgmt.Dir, "logs", "xr-capi-peerer.log"))

	metrics := scrape(t, metricsPort)
	for series, want := range map[string]int{
		`kubexr_capi_peerings_total{result="peered"}`: 3, `kubexr_capi_unpeerings_total{result="unpeered"}`: -1,
	} {
		got := metricValue(metrics, series)
		if (want >= 0 && got != want) || (want < 0 && got < 1) {
			t.Errorf("%s = %d, want %d (-1: at least 1)", series, got, want)
		}
	}
	// Which way the deleted Cluster went depends on who is faster: the two-sided unpeering
	// or Cluster API stopping its control plane.
	t.Logf("unpeerings: %d on both sides, %d forgotten (consumer side only)",
		metricValue(metrics, `kubexr_capi_unpeerings_total{result="unpeered"}`), metricValue(metrics, `kubexr_capi_unpeerings_total{result="forgotten"}`))
	if got := metricValue(metrics, `kubexr_capi_unpeerings_total{result="unpeered"}`) +
		metricValue(metrics, `kubexr_capi_unpeerings_total{result="forgotten"}`); got != 2 {
		t.Errorf("unpeerings (both sides or forgotten) = %d, want 2 (edge-rome deleted, edge-athens unlabelled)\n%s", got, metrics)
	}
}

// startPeerer applies manifests/capi's ServiceAccount and RBAC and runs the xr-capi-peerer
// binary as that ServiceAccount (impersonated), watching namespaces ("" = all). It returns
// the port of its /metrics (plain HTTP on loopback).
func startPeerer(t *testing.T, mgmt *sandbox.Cluster, namespaces string) int {
	t.Helper()
	ctx := context.Background()
	if err := mgmt.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kubexr-system"}}); err != nil {
		t.Fatal(err)
	}
	objs, err := manifests.Render(manifests.CAPI)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			continue // the binary runs as a process of the test (see README: test bed)
		}
		if err := mgmt.Apply(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := clientcmd.LoadFromFile(mgmt.KubeconfigPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, user := range cfg.AuthInfos {
		user.Impersonate = peererServiceAccount
		user.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:kubexr-system", "system:authenticated"}
	}
	kubeconfig := filepath.Join(t.TempDir(), "xr-capi-peerer.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "xr-capi-peerer")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/xr-capi-peerer").CombinedOutput(); err != nil {
		t.Fatalf("build xr-capi-peerer: %v\n%s", err, out)
	}
	metricsPort, err := sandbox.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	probePort, err := sandbox.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p, err := mgmt.StartProcess("xr-capi-peerer", bin, []string{
		"--namespaces=" + namespaces, "--leader-elect=true", "--namespace=kubexr-system",
		"--metrics-secure=false", "--metrics-bind-address=127.0.0.1:" + strconv.Itoa(metricsPort),
		"--health-probe-bind-address=127.0.0.1:" + strconv.Itoa(probePort),
		"--deleted-unpeer-timeout=20s", "--peering-timeout=3m",
	}, []string{"KUBECONFIG=" + kubeconfig})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if done, log := p.Exited(); done {
			t.Errorf("xr-capi-peerer exited during the test: %s", log)
		}
		p.Stop()
	})
	return metricsPort
}

// assertNoCredentialLogged: no token or private key of the Cluster's kubeconfig Secret,
// in any encoding the Secret holds it, appears in the log.
func assertNoCredentialLogged(t *testing.T, mgmt *sandbox.Cluster, cluster, logPath string) {
	t.Helper()
	data, err := kubeconfig.FromSecret(context.Background(), mgmt.Client, client.ObjectKey{Namespace: "fleet", Name: cluster})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	logged, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	var secrets [][]byte
	for _, user := range cfg.AuthInfos {
		if user.Token != "" {
			secrets = append(secrets, []byte(user.Token))
		}
		if len(user.ClientKeyData) > 0 {
			secrets = append(secrets, user.ClientKeyData, []byte(base64.StdEncoding.EncodeToString(user.ClientKeyData)))
			// Each line of the PEM body, so a partial print is caught too.
			for _, line := range bytes.Split(user.ClientKeyData, []byte("\n")) {
				if len(line) > 40 {
					secrets = append(secrets, line)
				}
			}
		}
	}
	if len(secrets) == 0 {
		t.Fatalf("%s's kubeconfig carries no token or client key to look for", cluster)
	}
	for _, secret := range secrets {
		if bytes.Contains(logged, secret) {
			t.Errorf("xr-capi-peerer's log holds a credential of %s's kubeconfig Secret", cluster)
			return
		}
	}
}

// peerConnection is a peer's connection in peer list -o json's output.
func peerConnection(t *testing.T, peerListJSON, clusterID string) string {
	t.Helper()
	var list struct {
		Items []struct {
			ClusterID  string `json:"clusterID"`
			Connection string `json:"connection"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(peerListJSON), &list); err != nil {
		t.Fatalf("peer list -o json: %v", err)
	}
	for _, p := range list.Items {
		if p.ClusterID == clusterID {
			return p.Connection
		}
	}
	return ""
}

func getCluster(t *testing.T, mgmt *sandbox.Cluster, name string) *clusterv1.Cluster {
	t.Helper()
	c := &clusterv1.Cluster{}
	if err := mgmt.Client.Get(context.Background(), client.ObjectKey{Namespace: "fleet", Name: name}, c); err != nil {
		t.Fatal(err)
	}
	return c
}

func patchCluster(t *testing.T, mgmt *sandbox.Cluster, name string, change func(*clusterv1.Cluster)) {
	t.Helper()
	c := getCluster(t, mgmt, name)
	patch := client.MergeFrom(c.DeepCopy())
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	change(c)
	if err := mgmt.Client.Patch(context.Background(), c, patch); err != nil {
		t.Fatal(err)
	}
}

// waitCondition waits for the Cluster's kubexr.io/Peered condition.
func waitCondition(t *testing.T, mgmt *sandbox.Cluster, name string, status metav1.ConditionStatus, reason, inMessage string) {
	t.Helper()
	sandbox.Eventually(t, fmt.Sprintf("%s %s=%s (%s)", name, capipeer.ConditionPeered, status, reason), provisionTimeout, func() (bool, string) {
		c := &clusterv1.Cluster{}
		if err := mgmt.Client.Get(context.Background(), client.ObjectKey{Namespace: "fleet", Name: name}, c); err != nil {
			return false, err.Error()
		}
		cond := meta.FindStatusCondition(c.Status.Conditions, capipeer.ConditionPeered)
		if cond == nil {
			return false, "no condition: " + conditionsOf(c)
		}
		return cond.Status == status && cond.Reason == reason && strings.Contains(cond.Message, inMessage),
			fmt.Sprintf("%s %s: %s", cond.Status, cond.Reason, cond.Message)
	})
}

func waitPeered(t *testing.T, mgmt *sandbox.Cluster, name string) {
	t.Helper()
	waitCondition(t, mgmt, name, metav1.ConditionTrue, capipeer.ReasonPeered, "peered as Liqo cluster "+name)
}

// waitProvisionedOnly waits for Provisioned (the unlabelled Cluster has no kubexr.io/Peered
// condition to wait for).
func waitProvisionedOnly(t *testing.T, mgmt *sandbox.Cluster, name string) {
	t.Helper()
	sandbox.Eventually(t, name+" Provisioned", provisionTimeout, func() (bool, string) {
		c := getCluster(t, mgmt, name)
		return c.Status.Phase == string(clusterv1.ClusterPhaseProvisioned), "phase " + c.Status.Phase
	})
}

func waitNodeReady(t *testing.T, mgmt *sandbox.Cluster, name string) {
	t.Helper()
	sandbox.Eventually(t, name+"'s virtual node Ready", provisionTimeout, func() (bool, string) {
		node := &corev1.Node{}
		if err := mgmt.Client.Get(context.Background(), client.ObjectKey{Name: name}, node); err != nil {
			return false, err.Error()
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, string(c.Status)
			}
		}
		return false, "no Ready condition"
	})
}

// waitUnpeered waits until the consumer holds no virtual node, Node or ForeignCluster of
// the cluster.
func waitUnpeered(t *testing.T, mgmt *sandbox.Cluster, name string) {
	t.Helper()
	sandbox.Eventually(t, name+" unpeered on the consumer", provisionTimeout, func() (bool, string) {
		ctx := context.Background()
		for _, obj := range []client.Object{&corev1.Node{}, &liqov1beta1.ForeignCluster{}} {
			if err := mgmt.Client.Get(ctx, client.ObjectKey{Name: name}, obj); !apierrors.IsNotFound(err) {
				return false, fmt.Sprintf("%T %s still there (%v)", obj, name, err)
			}
		}
		return true, ""
	})
}

func hasEvent(t *testing.T, mgmt *sandbox.Cluster, cluster, reason string) bool {
	t.Helper()
	var events eventsv1.EventList
	if err := mgmt.Client.List(context.Background(), &events, client.InNamespace("fleet")); err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if e.Regarding.Kind == "Cluster" && e.Regarding.Name == cluster && e.Reason == reason && e.ReportingController == capipeer.FieldOwner {
			return true
		}
	}
	return false
}

func scrape(t *testing.T, port int) string {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// metricValue is a counter's value in a Prometheus text exposition, 0 if absent.
func metricValue(exposition, series string) int {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\d+)$`).FindStringSubmatch(exposition)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
