// Package webhook will hold xr-webhook's admission webhooks and latency observer (the
// xr-webhook issue). It is empty: nothing here serves admission yet.
package webhook
