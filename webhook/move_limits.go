package webhook

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// moveWindow is the global rate limit: at most limit moves in any window of per. A
// sliding window, not a token bucket, so a burst never exceeds the stated rate.
type moveWindow struct {
	mu    sync.Mutex
	limit int
	per   time.Duration
	times []time.Time // moves taken, oldest first
}

func newMoveWindow(limit int, per time.Duration) *moveWindow {
	return &moveWindow{limit: limit, per: per}
}

// take records a move at now if the window has room; otherwise it says when it will.
func (w *moveWindow) take(now time.Time) (ok bool, retryAfter time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cut := 0
	for cut < len(w.times) && !now.Before(w.times[cut].Add(w.per)) {
		cut++
	}
	w.times = w.times[cut:]
	if len(w.times) >= w.limit {
		return false, w.times[0].Add(w.per).Sub(now)
	}
	w.times = append(w.times, now)
	return true, 0
}

// giveBack undoes the move taken at now: the eviction did not happen.
func (w *moveWindow) giveBack(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.times) - 1; i >= 0; i-- {
		if w.times[i].Equal(now) {
			w.times = append(w.times[:i], w.times[i+1:]...)
			return
		}
	}
}

// flight is a move under way in one workload: the pod's controller has to bring a
// replacement to Ready before the next pod of the workload moves.
type flight struct {
	controller types.UID // the evicted pod's controller (ReplicaSet, StatefulSet, Job)
	at         time.Time
}

// moveState is the mover's memory, kept by the leader only. What must survive a change
// of leader (when a pod left its bound) is on the pod itself (AnnotationOutOfBoundSince).
type moveState struct {
	mu sync.Mutex
	// flights by workload key (namespace/kind/name).
	flights map[string]flight
	// blocked is the reason last reported per pod, so each blocked episode gets one Event.
	blocked map[types.UID]string
	// backoff is the next wait after a refused eviction, per pod, and retryAt the time
	// before which the pod is not tried again (other triggers, such as each new
	// snapshot, come sooner than the backoff).
	backoff map[types.UID]time.Duration
	retryAt map[types.UID]time.Time
}

func newMoveState() *moveState {
	return &moveState{flights: map[string]flight{}, blocked: map[types.UID]string{},
		backoff: map[types.UID]time.Duration{}, retryAt: map[types.UID]time.Time{}}
}

// Bounds of the wait after a PodDisruptionBudget refused an eviction.
const (
	firstBackoff = 5 * time.Second
	maxBackoff   = 2 * time.Minute
)

// nextBackoff doubles the pod's wait, from firstBackoff up to maxBackoff, and holds the
// pod back until now plus that wait.
func (s *moveState) nextBackoff(pod types.UID, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.backoff[pod]
	if d == 0 {
		d = firstBackoff
	}
	s.backoff[pod] = min(2*d, maxBackoff)
	s.retryAt[pod] = now.Add(d)
	return d
}

// waitFor is how long the pod is still held back by its backoff (0: not held).
func (s *moveState) waitFor(pod types.UID, now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return max(s.retryAt[pod].Sub(now), 0)
}

// report returns true the first time a pod is blocked for reason in a row, so the Event
// and the counter say it once per episode rather than once per retry.
func (s *moveState) report(pod types.UID, reason string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked[pod] == reason {
		return false
	}
	s.blocked[pod] = reason
	return true
}

// forget drops what is known of a pod: it is within its bound again, moved, or gone.
func (s *moveState) forget(pod types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.blocked, pod)
	delete(s.backoff, pod)
	delete(s.retryAt, pod)
}

func (s *moveState) inFlight(workload string) (flight, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.flights[workload]
	return f, ok
}

func (s *moveState) startFlight(workload string, f flight) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flights[workload] = f
}

func (s *moveState) endFlight(workload string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.flights, workload)
}
