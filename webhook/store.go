package webhook

import (
	"sync/atomic"

	"github.com/kubexr/kubectl-xr/policy"
)

// Snapshot is what a decision reads: immutable once published.
type Snapshot struct {
	Inventory *policy.Inventory
	Classes   policy.ClassSet
}

// Store holds the latest snapshot. The observer publishes; admissions load without locks.
type Store struct {
	current atomic.Pointer[Snapshot]
	// changed, when made by NewStore, receives a token on each publication (coalesced),
	// so the mover re-judges running pods whenever the measurements change.
	changed chan struct{}
}

// NewStore makes a Store whose publications can be followed with Changed.
func NewStore() *Store { return &Store{changed: make(chan struct{}, 1)} }

// Changed receives after publications; several publications may be coalesced into one.
func (s *Store) Changed() <-chan struct{} { return s.changed }

// Load returns the latest snapshot, or nil before the observer's first publication.
func (s *Store) Load() *Snapshot { return s.current.Load() }

// Publish replaces the snapshot.
func (s *Store) Publish(snap *Snapshot) {
	s.current.Store(snap)
	select {
	case s.changed <- struct{}{}:
	default: // a token is already pending, or nobody follows (nil channel)
	}
}

// Loaded reports whether a snapshot was published: until then no pod is admitted.
func (s *Store) Loaded() bool { return s.current.Load() != nil }
