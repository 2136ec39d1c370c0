// Package policy is the pure core of kubectl-xr: it parses latency hints, resolves them
// across pod, workload and namespace, smooths Liqo's measured round-trip times, and
// decides which clusters a pod may run on, returning the exact scheduling constraints to
// inject and a record of why.
//
// It does no I/O and reads no clock: callers pass the time in. It imports Kubernetes API
// types but no client. The webhook and the kubectl plugin both call it; nothing else
// re-implements these rules.
package policy
