package webhook

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// Once draining, every reply asks the client to close its connection, and Go's client
// does: the next request opens a new connection (to a replica still ready, behind a
// Service) instead of reusing one the stopping server would close under it.
func TestDrainingRepliesCloseTheirConnection(t *testing.T) {
	var d drainer
	srv := httptest.NewUnstartedServer(d.wrap(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(rw, "ok")
	})))
	var newConns atomic.Int32
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	get := func() (closes bool) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.Close
	}
	for range 3 {
		if get() {
			t.Fatal("a reply closes its connection before draining")
		}
	}
	if newConns.Load() != 1 {
		t.Fatalf("3 requests before draining opened %d connections, want 1 (kept alive)", newConns.Load())
	}
	d.draining.Store(true)
	for range 3 {
		if !get() {
			t.Fatal("a reply while draining keeps its connection, want Connection: close")
		}
	}
	if newConns.Load() != 3 {
		t.Errorf("3 requests while draining opened %d new connections, want 2 (the first reused the kept one, then one each)", newConns.Load()-1)
	}
}

func TestStopAfterDrainDrainsThenStops(t *testing.T) {
	w := &Webhook{}
	stop, signal := context.WithCancel(context.Background())
	ctx, cancel := w.StopAfterDrain(stop, 200*time.Millisecond)
	defer cancel()
	if w.Draining() || ctx.Err() != nil {
		t.Fatal("draining or stopped before the signal")
	}
	signal()
	deadline := time.Now().Add(5 * time.Second)
	for !w.Draining() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if !w.Draining() {
		t.Fatal("not draining after the signal")
	}
	if ctx.Err() != nil {
		t.Fatal("the manager's context ended with the signal instead of after the drain")
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the manager's context did not end after the drain")
	}
}
