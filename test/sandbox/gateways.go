package sandbox

// Liqo's REAL gateways for a peering: the consumer's GatewayClient and the provider's
// GatewayServer, each run as Liqo v1.2.0's two gateway processes (cmd/gateway/wireguard
// with userspace WireGuard, and cmd/gateway with the connection check) in a network
// namespace of its own. The WireGuard underlay crosses the harness's delay relay, so the
// latency Liqo writes into the Connection objects is measured, over an injected delay.

import (
	"context"
	"fmt"
	"sync"
	"time"

	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubexr/kubectl-xr/test/delayrelay"
)

// Liqo's chart defaults for the gateway (values.yaml networking.gateway).
const (
	gatewayMTU        = 1340
	gatewayServerPort = 51840
	// DefaultPingInterval, DefaultPingLossThreshold and DefaultUpdateStatusInterval are
	// the chart's networking.gateway.ping defaults.
	DefaultPingInterval         = 2 * time.Second
	DefaultPingLossThreshold    = 5
	DefaultUpdateStatusInterval = 10 * time.Second
)

// GatewayOptions configure a peering's gateways. Zero values take Liqo's defaults.
type GatewayOptions struct {
	// RTT is the round-trip delay the relay injects, split evenly between directions.
	RTT time.Duration
	// PingInterval, PingLossThreshold and UpdateStatusInterval are the connection
	// check's --ping-interval, --ping-loss-threshold, --ping-update-status-interval.
	PingInterval         time.Duration
	PingLossThreshold    int
	UpdateStatusInterval time.Duration
}

func (o GatewayOptions) withDefaults() GatewayOptions {
	if o.PingInterval == 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PingLossThreshold == 0 {
		o.PingLossThreshold = DefaultPingLossThreshold
	}
	if o.UpdateStatusInterval == 0 {
		o.UpdateStatusInterval = DefaultUpdateStatusInterval
	}
	return o
}

// GatewayLink is a running pair of gateways between a consumer and one provider.
type GatewayLink struct {
	Consumer, Provider *Cluster
	Options            GatewayOptions

	relay      *relayProcess
	procs      []*process
	forwarders []*tcpForwarder
	namespaces []*netns
	closeOnce  sync.Once
}

// SetRTT changes the injected round-trip delay, split evenly between the directions;
// Liqo's measurement follows within one ping and one status interval.
func (l *GatewayLink) SetRTT(rtt time.Duration) error {
	return l.relay.setDelay(delayrelay.SplitRTT(rtt))
}

// SetDelay sets each direction's delay: consumer→provider and provider→consumer.
func (l *GatewayLink) SetDelay(toProvider, toConsumer time.Duration) error {
	return l.relay.setDelay(toProvider, toConsumer)
}

// RTT is the injected round-trip delay.
func (l *GatewayLink) RTT() time.Duration {
	up, down := l.relay.delays()
	return up + down
}

// Cut drops all traffic between the gateways (Liqo reports Error after
// PingLossThreshold lost pings); Restore reconnects.
func (l *GatewayLink) Cut() error     { return l.relay.setCut(true) }
func (l *GatewayLink) Restore() error { return l.relay.setCut(false) }

// Close stops the gateway processes and removes the relay, forwarders and namespaces.
// Liqo's objects stay (unpeering removes them with the tenant namespaces).
func (l *GatewayLink) Close() {
	l.closeOnce.Do(func() {
		var wg sync.WaitGroup
		for _, p := range l.procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.stop(5 * time.Second)
			}()
		}
		wg.Wait()
		if l.relay != nil {
			l.relay.close()
		}
		for _, f := range l.forwarders {
			f.close()
		}
		for _, ns := range l.namespaces {
			ns.remove()
		}
	})
}

// PeerWithGateways peers c (consumer) with provider as Peer does, then connects the
// peering with Liqo's real gateways (ConnectGateways).
func (c *Cluster) PeerWithGateways(ctx context.Context, provider *Cluster, opts GatewayOptions) (*GatewayLink, error) {
	if err := GatewaySupport(); err != nil {
		return nil, err
	}
	if err := c.Peer(ctx, provider); err != nil {
		return nil, err
	}
	return c.ConnectGateways(ctx, provider, opts)
}

// ConnectGateways runs Liqo's real gateways for an existing peering (made with networking
// disabled, so Liqo deploys none itself) across a delay relay injecting opts.RTT. It
// returns once the consumer's Connection reports a second Connected measurement (the
// first includes the WireGuard handshake). Needs GatewaySupport() == nil.
func (c *Cluster) ConnectGateways(ctx context.Context, provider *Cluster, opts GatewayOptions) (*GatewayLink, error) {
	if err := GatewaySupport(); err != nil {
		return nil, err
	}
	if provider.liqo == nil || c.liqo == nil {
		return nil, fmt.Errorf("gateways need Liqo on both %s and %s (ClusterOptions.Liqo)", c.Name, provider.Name)
	}
	if _, err := c.Gateway(provider.Name); err == nil {
		return nil, fmt.Errorf("cluster %s already has gateways to %s", c.Name, provider.Name)
	}
	l := &GatewayLink{Consumer: c, Provider: provider, Options: opts.withDefaults()}
	if err := l.start(ctx); err != nil {
		l.Close()
		return nil, fmt.Errorf("gateways %s→%s: %w", c.Name, provider.Name, err)
	}
	c.gatewayMu.Lock()
	if c.gateways == nil {
		c.gateways = map[string]*GatewayLink{}
	}
	c.gateways[provider.Name] = l
	c.gatewayMu.Unlock()
	if _, err := c.WaitConnectionMeasured(ctx, provider.Name, 2); err != nil {
		return nil, fmt.Errorf("gateways %s→%s: %w", c.Name, provider.Name, err)
	}
	return l, nil
}

// Gateway returns the gateway link to provider, or an error if there is none.
func (c *Cluster) Gateway(provider string) (*GatewayLink, error) {
	c.gatewayMu.Lock()
	defer c.gatewayMu.Unlock()
	if l, ok := c.gateways[provider]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("cluster %s has no gateway link to %s (PeerWithGateways)", c.Name, provider)
}

// SetRTT, Cut and Restore act on the gateway link to provider.
func (c *Cluster) SetRTT(provider string, rtt time.Duration) error {
	l, err := c.Gateway(provider)
	if err != nil {
		return err
	}
	return l.SetRTT(rtt)
}

func (c *Cluster) Cut(provider string) error {
	l, err := c.Gateway(provider)
	if err != nil {
		return err
	}
	return l.Cut()
}

func (c *Cluster) Restore(provider string) error {
	l, err := c.Gateway(provider)
	if err != nil {
		return err
	}
	return l.Restore()
}

// closeGateway closes and forgets the link to provider, if any.
func (c *Cluster) closeGateway(provider string) {
	c.gatewayMu.Lock()
	l := c.gateways[provider]
	delete(c.gateways, provider)
	c.gatewayMu.Unlock()
	if l != nil {
		l.Close()
	}
}

// closeGateways closes every link this cluster consumes through.
func (c *Cluster) closeGateways() {
	c.gatewayMu.Lock()
	links := c.gateways
	c.gateways = nil
	c.gatewayMu.Unlock()
	for _, l := range links {
		l.Close()
	}
}

// WaitConnectionMeasured waits until this cluster's Connection to provider has reported
// n Connected measurements with a latency newer than the one it carried when the wait
// began, and returns the last.
func (c *Cluster) WaitConnectionMeasured(ctx context.Context, provider string, n int) (*networkingv1beta1.Connection, error) {
	key := client.ObjectKey{Namespace: TenantNamespace(provider), Name: ConnectionName(provider)}
	var last time.Time
	first, seen := true, 0
	conn := &networkingv1beta1.Connection{}
	timeout := time.Minute + time.Duration(n)*(DefaultUpdateStatusInterval+DefaultPingInterval)
	err := poll(ctx, 200*time.Millisecond, timeout, fmt.Sprintf("%d new Connected measurements in %s", n, key),
		func(ctx context.Context) (bool, error) {
			err := c.Client.Get(ctx, key, conn)
			if apierrors.IsNotFound(err) {
				first = false // created after the call: its first measurement counts
				return false, err
			}
			if err != nil {
				return false, err
			}
			st := conn.Status
			ts := st.Latency.Timestamp.Time
			if first {
				first, last = false, ts
				return false, nil
			}
			if st.Value != networkingv1beta1.Connected || st.Latency.Value == "" || st.Latency.Value == "N/A" {
				return false, fmt.Errorf("status %q latency %q", st.Value, st.Latency.Value)
			}
			if ts.After(last) {
				last = ts
				seen++
			}
			return seen >= n, nil
		})
	if err != nil {
		return nil, err
	}
	return conn, nil
}
