// Package webhook is xr-webhook: one controller-runtime manager that turns Liqo's
// measured latency into placement.
//
//   - The observer (observer_controller.go) folds Liqo Connection statuses into policy's
//     smoothing, publishes an immutable inventory snapshot (store.go) and labels every
//     virtual node with the tightest LatencyClass its cluster meets.
//   - The pod webhook (pod_webhook.go) resolves a pod's hint, asks policy for a decision
//     against the snapshot and patches the pod's node affinity and tolerations.
//   - The hint validator (hint_webhook.go) rejects malformed hints at apply time.
//   - The placement events controller (events_controller.go) explains each decision with
//     an Event on the pod once the pod exists (at admission it may have no name yet).
//
// Handlers only decode, ask policy and encode; every decision is policy's.
package webhook
