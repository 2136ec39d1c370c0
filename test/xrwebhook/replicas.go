package xrwebhook

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kubexr/kubectl-xr/test/sandbox"
	"github.com/kubexr/kubectl-xr/webhook"
)

// Replicas are several in-process xr-webhooks behind one Service, as the Deployment of
// manifests/webhook runs them: each with its own API connection (through a
// sandbox.CuttableProxy, so a test can cut one off) and its own serving port, and the
// webhook configurations pointed at a sandbox.ServiceStandIn in front of them.
type Replicas struct {
	Running []*Running
	Proxies []*sandbox.CuttableProxy
	Service *sandbox.ServiceStandIn
	// PreStop is the Deployment's preStop sleep, read from the manifests.
	PreStop time.Duration
}

// StartReplicas starts n replicas and returns once all are ready and the webhook
// configurations point at them.
func StartReplicas(ctx context.Context, sb *sandbox.Sandbox, c *sandbox.Cluster, n int, opts webhook.Options) (*Replicas, error) {
	objs, err := sb.Kustomize(ManifestsDir("default"))
	if err != nil {
		return nil, err
	}
	configs, err := applyManifests(ctx, sb, c)
	if err != nil {
		return nil, err
	}
	rs := &Replicas{PreStop: preStopSleep(objs)}
	ca, err := os.ReadFile(c.PKI.CACert)
	if err != nil {
		return nil, err
	}
	host, err := url.Parse(c.Config.Host)
	if err != nil {
		return nil, err
	}
	var endpoints []string
	for range n {
		proxy, err := sandbox.NewCuttableProxy(host.Host)
		if err != nil {
			rs.Stop()
			return nil, err
		}
		rs.Proxies = append(rs.Proxies, proxy)
		r := &Running{CA: ca, Drain: webhook.DefaultDrain}
		if r.Port, err = sandbox.FreePort(); err != nil {
			rs.Stop()
			return nil, err
		}
		r.start = func(ctx context.Context) error { return r.startManager(ctx, c, proxy.Addr(), nil, opts) }
		if err := r.start(ctx); err != nil {
			rs.Stop()
			return nil, err
		}
		rs.Running = append(rs.Running, r)
		endpoints = append(endpoints, fmt.Sprintf("127.0.0.1:%d", r.Port))
	}
	if rs.Service, err = sandbox.NewServiceStandIn(endpoints...); err != nil {
		rs.Stop()
		return nil, err
	}
	if err := applyConfigs(ctx, c, configs, rs.Service.Port(), ca); err != nil {
		rs.Stop()
		return nil, err
	}
	return rs, nil
}

// Delete ends replica i as `kubectl delete pod` or a rolling update does: its endpoint
// is removed, the preStop sleep passes (requests already routed to it finish), then it
// gets SIGTERM: it drains its connections for Running.Drain and stops.
func (rs *Replicas) Delete(i int) {
	rs.Service.SetReady(rs.endpoint(i), false)
	time.Sleep(rs.PreStop)
	rs.Running[i].Stop()
}

// Start starts replica i again and adds its endpoint once it is ready.
func (rs *Replicas) Start(ctx context.Context, i int) error {
	if err := rs.Running[i].Restart(ctx); err != nil {
		return err
	}
	rs.Service.SetReady(rs.endpoint(i), true)
	return nil
}

// Leader is the index of the replica that leads now, or -1.
func (rs *Replicas) Leader() int {
	for i, r := range rs.Running {
		if r.stop != nil && r.Webhook.Leading() {
			return i
		}
	}
	return -1
}

func (rs *Replicas) endpoint(i int) string { return fmt.Sprintf("127.0.0.1:%d", rs.Running[i].Port) }

// Stop stops every replica, the Service stand-in and the proxies.
func (rs *Replicas) Stop() {
	for _, r := range rs.Running {
		r.Stop()
	}
	if rs.Service != nil {
		rs.Service.Close()
	}
	for _, p := range rs.Proxies {
		p.Close()
	}
}

// preStopSleep reads the xr-webhook container's preStop sleep from the Deployment.
func preStopSleep(objs []*unstructured.Unstructured) time.Duration {
	for _, o := range objs {
		if o.GetKind() != "Deployment" || o.GetName() != "xr-webhook" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			v, _, _ := unstructured.NestedFieldNoCopy(c.(map[string]any), "lifecycle", "preStop", "sleep", "seconds")
			switch s := v.(type) {
			case int64:
				return time.Duration(s) * time.Second
			case float64:
				return time.Duration(s * float64(time.Second))
			}
		}
	}
	return 0
}
