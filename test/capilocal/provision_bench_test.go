package capilocal_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/internal/capipeer"
	"github.com/kubexr/kubectl-xr/test/benchout"
	"github.com/kubexr/kubectl-xr/test/capilocal"
	"github.com/kubexr/kubectl-xr/test/sandbox"
)

// provisionRound is one batch of Clusters created at once.
type provisionRound struct {
	Clusters        int     `json:"clusters"`
	ProvisionedP50  float64 `json:"provisionedP50Ms"`
	ProvisionedMax  float64 `json:"provisionedMaxMs"`
	RemoteProbedMax float64 `json:"remoteConnectionProbedMaxMs"`
	PeeredP50       float64 `json:"peeredP50Ms"`
	PeeredMax       float64 `json:"peeredMaxMs"`
	DeletedAll      float64 `json:"deletedAllMs"`
}

type provisionFigures struct {
	Machine string           `json:"machine"`
	Rounds  []provisionRound `json:"rounds"`
}

// TestProvisioningTimes is the paper's first experiment: N Clusters labelled
// kubexr.io/peer=true created at once on a management cluster (also the Liqo consumer)
// running Cluster API's real core manager and xr-capi-peerer, each provisioned by the local
// provider with Liqo's control plane; the time from the Cluster's creation to Cluster API
// reporting it Provisioned, to its RemoteConnectionProbe condition True (Cluster API reached
// the workload cluster), and to peered (its virtual node Ready on the consumer, peered by
// xr-capi-peerer without networking: this test bed runs no gateways for liqoctl's
// peerings). Without KUBEXR_BENCH it is the smoke run of make test (one round of 1); make
// bench runs 1, 3 and 5.
func TestProvisioningTimes(t *testing.T) {
	batches := []int{1}
	if os.Getenv("KUBEXR_BENCH") != "" {
		batches = []int{1, 3, 5}
	}
	ctx := context.Background()
	_, mgmt, _ := startManagement(t)
	startPeerer(t, mgmt, "")
	figures := provisionFigures{Machine: fmt.Sprintf("%s/%s, %d CPUs", runtime.GOOS, runtime.GOARCH, runtime.NumCPU())}
	for round, n := range batches {
		ns := fmt.Sprintf("round-%d", round)
		if err := mgmt.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
		provisioned, probed, peered := make([]time.Duration, n), make([]time.Duration, n), make([]time.Duration, n)
		var wg sync.WaitGroup
		start := time.Now()
		for i := range n {
			name := fmt.Sprintf("edge-%d-%d", round, i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, obj := range capilocal.ClusterObjects(ns, name, map[string]string{"kubexr.io/peer": "true"}, capilocal.ControlPlane{Liqo: true, Kwok: true}) {
					if c, ok := obj.(*clusterv1.Cluster); ok {
						c.Annotations = map[string]string{capipeer.AnnotationNetworking: "disabled"}
					}
					if err := mgmt.Client.Create(ctx, obj); err != nil {
						t.Errorf("create %s: %v", name, err)
						return
					}
				}
				// Both watched at once: peering may finish before Cluster API probes the
				// remote connection.
				var both sync.WaitGroup
				both.Go(func() { provisioned[i], probed[i] = watchProvisioning(t, mgmt, ns, name, start) })
				both.Go(func() { peered[i] = watchPeered(t, mgmt, name, start) })
				both.Wait()
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		slices.Sort(provisioned)
		slices.Sort(peered)
		r := provisionRound{Clusters: n, ProvisionedP50: benchout.Millis(provisioned[(n-1)/2]),
			ProvisionedMax: benchout.Millis(provisioned[n-1]), RemoteProbedMax: benchout.Millis(slices.Max(probed)),
			PeeredP50: benchout.Millis(peered[(n-1)/2]), PeeredMax: benchout.Millis(peered[n-1])}
		// The round's clusters go before the next round, so each round starts on the same
		// machine load: deleting them all is timed too.
		r.DeletedAll = benchout.Millis(deleteAll(t, mgmt, ns))
		t.Logf("provisioning: %d at once: Provisioned p50 %.0f ms, max %.0f ms; remote connection probed by %.0f ms; peered p50 %.0f ms, max %.0f ms; all deleted (and unpeered) in %.0f ms",
			n, r.ProvisionedP50, r.ProvisionedMax, r.RemoteProbedMax, r.PeeredP50, r.PeeredMax, r.DeletedAll)
		figures.Rounds = append(figures.Rounds, r)
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| Clusters created at once | Provisioned p50 | Provisioned max | remote connection probed (max) | peered p50 | peered max | all deleted and unpeered |\n|---|---|---|---|---|---|---|\n")
	for _, r := range figures.Rounds {
		fmt.Fprintf(&table, "| %d | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %.0f ms |\n", r.Clusters, r.ProvisionedP50, r.ProvisionedMax,
			r.RemoteProbedMax, r.PeeredP50, r.PeeredMax, r.DeletedAll)
	}
	t.Log("\n" + table.String())
	benchout.Write(t, figures, table.String())
}

// watchProvisioning polls a Cluster every 100 ms and returns when Cluster API set it
// Provisioned and when its RemoteConnectionProbe turned True, both since start.
func watchProvisioning(t *testing.T, mgmt *sandbox.Cluster, ns, name string, start time.Time) (provisioned, probed time.Duration) {
	deadline := start.Add(provisionTimeout)
	for time.Now().Before(deadline) {
		c := &clusterv1.Cluster{}
		if err := mgmt.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, c); err == nil {
			if provisioned == 0 && c.Status.Phase == string(clusterv1.ClusterPhaseProvisioned) {
				provisioned = time.Since(start)
			}
			for _, cond := range c.Status.Conditions {
				if probed == 0 && cond.Type == clusterv1.ClusterRemoteConnectionProbeCondition && cond.Status == metav1.ConditionTrue {
					probed = time.Since(start)
				}
			}
			if provisioned > 0 && probed > 0 {
				return provisioned, probed
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("%s/%s: not Provisioned with its remote connection probed within %s", ns, name, provisionTimeout)
	return provisioned, probed
}

// watchPeered polls the consumer every 100 ms for the Cluster's virtual node (named after
// its Liqo cluster id, the Cluster's name here) and returns when it is Ready, since start.
func watchPeered(t *testing.T, mgmt *sandbox.Cluster, name string, start time.Time) time.Duration {
	for deadline := start.Add(2 * provisionTimeout); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		node := &corev1.Node{}
		if err := mgmt.Client.Get(context.Background(), client.ObjectKey{Name: name}, node); err == nil {
			for _, c := range node.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return time.Since(start)
				}
			}
		}
	}
	t.Errorf("%s: not peered (virtual node Ready) within %s", name, 2*provisionTimeout)
	return 0
}

// deleteAll deletes every Cluster in ns and returns how long until Cluster API and the
// provider had let all of them go (control planes stopped).
func deleteAll(t *testing.T, mgmt *sandbox.Cluster, ns string) time.Duration {
	ctx := context.Background()
	start := time.Now()
	if err := mgmt.Client.DeleteAllOf(ctx, &clusterv1.Cluster{}, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	sandbox.Eventually(t, "the Clusters of "+ns+" gone", provisionTimeout, func() (bool, string) {
		var list clusterv1.ClusterList
		if err := mgmt.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		return len(list.Items) == 0, fmt.Sprintf("%d left", len(list.Items))
	})
	return time.Since(start)
}
