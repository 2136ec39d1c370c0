package webhook

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/util/uuid"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
)

// LeaderElection configures the lease that elects the replica running the leader-only
// work: the mover, the placement Events and the node labels.
type LeaderElection struct {
	Namespace, ID string
	// LeaseDuration, RenewDeadline and RetryPeriod default to controller-runtime's
	// (15 s, 10 s, 2 s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// leaderLoop holds the lease while it can and campaigns again when it loses it. Unlike
// controller-runtime's own election, losing the lease (an API server unreachable for
// longer than the renew deadline) stops only the leader-only work: the process, its
// admission server and its caches keep running, so no admission fails because the
// leader was cut off for a moment. Every replica serves admissions, leader or not.
type leaderLoop struct {
	lock   resourcelock.Interface
	config LeaderElection
	// terms start the leader-only work for one term; it must stop when ctx is done.
	terms []func(ctx context.Context) error

	elected atomic.Bool
}

// newLeaderLoop builds the Lease lock with its own clients (short timeouts, so one hung
// request cannot outlast the renew deadline).
func newLeaderLoop(cfg *rest.Config, le LeaderElection) (*leaderLoop, error) {
	le.LeaseDuration = orDefault(le.LeaseDuration, 15*time.Second)
	le.RenewDeadline = orDefault(le.RenewDeadline, 10*time.Second)
	le.RetryPeriod = orDefault(le.RetryPeriod, 2*time.Second)
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("leader election identity: %w", err)
	}
	cfg = rest.AddUserAgent(rest.CopyConfig(cfg), "leader-election")
	cfg.Timeout = max(le.RenewDeadline/2, time.Second)
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	coord, err := coordinationv1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, le.Namespace, le.ID, core, coord,
		resourcelock.ResourceLockConfig{Identity: host + "_" + string(uuid.NewUUID())})
	if err != nil {
		return nil, fmt.Errorf("leader election lock: %w", err)
	}
	return &leaderLoop{lock: lock, config: le}, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// IsLeader says whether this replica holds the lease now.
func (l *leaderLoop) IsLeader() bool { return l.elected.Load() }

// NeedLeaderElection: the loop runs in every replica; it is the election.
func (l *leaderLoop) NeedLeaderElection() bool { return false }

// Start campaigns until ctx is done, running the terms while it leads.
func (l *leaderLoop) Start(ctx context.Context) error {
	log := logf.FromContext(ctx).WithName("leader-election")
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:          l.lock,
			LeaseDuration: l.config.LeaseDuration, RenewDeadline: l.config.RenewDeadline, RetryPeriod: l.config.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            l.config.ID,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(term context.Context) {
					log.Info("leading: starting the mover, placement Events and node labelling")
					l.elected.Store(true)
					l.lead(term)
					// The term ends as soon as a renewal fails, before the lease is
					// released: stop claiming leadership now, not after the release.
					if l.elected.Swap(false) && ctx.Err() == nil {
						log.Info("lost the lease: leader-only work stopped, admissions still served; campaigning again")
					}
				},
				OnStoppedLeading: func() { l.elected.Store(false) },
			},
		})
		if err != nil {
			return fmt.Errorf("leader election: %w", err)
		}
		le.Run(ctx) // returns when the lease is lost or ctx is done
	}
	return nil
}

// lead runs every term function until the term ends.
func (l *leaderLoop) lead(ctx context.Context) {
	var wg sync.WaitGroup
	for _, start := range l.terms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := start(ctx); err != nil && ctx.Err() == nil {
				logf.FromContext(ctx).Error(err, "leader-only controller stopped")
			}
		}()
	}
	wg.Wait()
}
