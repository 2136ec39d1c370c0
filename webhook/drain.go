package webhook

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"
)

// DefaultDrain is how long a stopping replica keeps serving, asking the API server to
// close each connection after its reply, before its server stops.
const DefaultDrain = 3 * time.Second

// drainer turns a stopping replica's keep-alive connections over to the others.
//
// Why: the API server keeps HTTP/1.1 connections open to a Service's endpoints, and
// connections already open stay with their pod after it leaves the EndpointSlice (as
// conntrack keeps them). When the server stops it closes every idle connection; a
// request the API server writes on one at that instant fails with EOF, and an
// admission request is a POST, which Go's client never retries. Replying with
// "Connection: close" for a while first lets the API server close each connection
// itself after a reply it has read, and open the next one to a replica still ready.
type drainer struct{ draining atomic.Bool }

func (d *drainer) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		if d.draining.Load() {
			rw.Header().Set("Connection", "close")
		}
		h.ServeHTTP(rw, req)
	})
}

// Drain makes every reply from now on close its connection (see drainer).
func (w *Webhook) Drain() { w.drain.draining.Store(true) }

// Draining says whether Drain was called.
func (w *Webhook) Draining() bool { return w.drain.draining.Load() }

// StopAfterDrain returns a context for the manager that ends drain after stop ends:
// in between, w drains. cancel releases it early (it then ends at once).
func (w *Webhook) StopAfterDrain(stop context.Context, drain time.Duration) (ctx context.Context, cancel context.CancelFunc) {
	ctx, cancel = context.WithCancel(context.WithoutCancel(stop))
	go func() {
		select {
		case <-stop.Done():
		case <-ctx.Done():
			return
		}
		w.Drain()
		t := time.NewTimer(drain)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}
