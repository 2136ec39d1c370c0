package webhook_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/policy"
	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/test/xrwebhook"
	"github.com/kubexr/kubectl-xr/webhook"
)

// The leader cut off from the API server for 15 s loses its lease (past the renew
// deadline) but not its admission server: hinted pods created at 10/s all the while are
// admitted and placed, and once the connection is back it leads again. With
// controller-runtime's own election the process exited at the loss.
func TestLosingTheLeaseKeepsAdmissionsServed(t *testing.T) {
	ctx := context.Background()
	c := env.sb.StartClusterForTest(t, sandbox.ClusterOptions{Name: "leader"})
	host, err := url.Parse(c.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := sandbox.NewCuttableProxy(host.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(proxy.Close)
	// Shorter lease timings than production's 15/10/2 s, so the loss surely falls within
	// the 15 s cut.
	run, err := xrwebhook.StartVia(ctx, env.sb, c, proxy.Addr(), nil, webhook.Options{LeaderElection: &webhook.LeaderElection{
		Namespace: xrwebhook.Namespace, ID: xrwebhook.LeaseName,
		LeaseDuration: 6 * time.Second, RenewDeadline: 4 * time.Second, RetryPeriod: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Stop)
	if err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "xr",
		Labels: map[string]string{policy.LabelEnabled: "true"}}}); err != nil {
		t.Fatal(err)
	}
	sandbox.Eventually(t, "xr-webhook to lead", time.Minute, func() (bool, string) { return run.Webhook.Leading(), "" })

	// 10 hinted pods a second, straight to the API server.
	load := startSteadyLoad(ctx, c.Client, "xr", "p", map[string]string{policy.AnnotationLatencyClass: "low"}, 100*time.Millisecond)

	time.Sleep(2 * time.Second)
	proxy.Cut(true)
	cutAt := time.Now()
	lost := false
	for time.Since(cutAt) < 15*time.Second {
		lost = lost || !run.Webhook.Leading()
		time.Sleep(200 * time.Millisecond)
	}
	proxy.Cut(false)
	if !lost {
		t.Error("xr-webhook still believed it led after 15 s without the API server")
	}
	sandbox.Eventually(t, "xr-webhook to lead again", time.Minute, func() (bool, string) { return run.Webhook.Leading(), "" })
	time.Sleep(2 * time.Second)
	created, failures := load.Stop()
	if len(failures) > 0 {
		t.Errorf("%d of %d admissions failed around the lost lease, e.g. %v", len(failures), created, failures[0])
	}
	var pods corev1.PodList
	if err := c.Client.List(ctx, &pods, client.InNamespace("xr")); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Annotations[policy.AnnotationDecision] == "" {
			t.Errorf("pod %s carries no decision", p.Name)
		}
	}
	t.Logf("%d hinted pods created around a 15 s cut of the leader, %d failed, %d carry a decision", created, len(failures), len(pods.Items))
}
