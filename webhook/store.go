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
}

// Load returns the latest snapshot, or nil before the observer's first publication.
func (s *Store) Load() *Snapshot { return s.current.Load() }

// Publish replaces the snapshot.
func (s *Store) Publish(snap *Snapshot) { s.current.Store(snap) }

// Loaded reports whether a snapshot was published: until then no pod is admitted.
func (s *Store) Loaded() bool { return s.current.Load() != nil }
