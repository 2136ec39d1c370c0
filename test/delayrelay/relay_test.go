package delayrelay

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// echoTarget answers every datagram with the same bytes and records when each arrived.
type echoTarget struct {
	conn *net.UDPConn
	mu   sync.Mutex
	seen map[string]time.Time
}

func newEchoTarget(t *testing.T) *echoTarget {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	e := &echoTarget{conn: conn, seen: map[string]time.Time{}}
	go func() {
		buf := make([]byte, maxDatagram)
		for {
			n, from, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			e.mu.Lock()
			e.seen[string(buf[:n])] = time.Now()
			e.mu.Unlock()
			_, _ = conn.WriteToUDP(buf[:n], from)
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return e
}

func (e *echoTarget) arrival(payload string) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	at, ok := e.seen[payload]
	return at, ok
}

func newRelay(t *testing.T, target *echoTarget) *Relay {
	t.Helper()
	r, err := Listen("127.0.0.1:0", target.conn.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func dialRelay(t *testing.T, r *Relay) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp", nil, r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends payload and waits up to wait for its echo; it returns the round trip,
// the one-way time to the target (one clock: same process) and whether the echo came.
func exchange(t *testing.T, c *net.UDPConn, target *echoTarget, payload string, wait time.Duration) (rtt, oneWay time.Duration, ok bool) {
	t.Helper()
	sent := time.Now()
	if _, err := c.Write([]byte(payload)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, maxDatagram)
	_ = c.SetReadDeadline(time.Now().Add(wait))
	for {
		n, err := c.Read(buf)
		if err != nil {
			return 0, 0, false
		}
		if !bytes.Equal(buf[:n], []byte(payload)) {
			continue // a late echo of an earlier probe
		}
		rtt = time.Since(sent)
		at, _ := target.arrival(payload)
		return rtt, at.Sub(sent), true
	}
}

func TestRelayDelaysEachDirection(t *testing.T) {
	target := newEchoTarget(t)
	r := newRelay(t, target)
	c := dialRelay(t, r)

	cases := []struct {
		name               string
		toTarget, toClient time.Duration
	}{
		{"no delay", 0, 0},
		{"symmetric 10+10", 10 * time.Millisecond, 10 * time.Millisecond},
		{"asymmetric 25+5", 25 * time.Millisecond, 5 * time.Millisecond},
		{"shrunk again 2+2", 2 * time.Millisecond, 2 * time.Millisecond},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.SetDelay(tc.toTarget, tc.toClient)
			if gotT, gotC := r.Delays(); gotT != tc.toTarget || gotC != tc.toClient {
				t.Fatalf("Delays() = %v, %v; want %v, %v", gotT, gotC, tc.toTarget, tc.toClient)
			}
			rtt, oneWay, ok := exchange(t, c, target, fmt.Sprintf("probe-%d", i), 5*time.Second)
			if !ok {
				t.Fatal("no echo through the relay")
			}
			// Lower bounds only: a loaded machine may add time, never remove it.
			if oneWay < tc.toTarget {
				t.Errorf("one-way to target %v, want at least %v", oneWay, tc.toTarget)
			}
			if rtt < tc.toTarget+tc.toClient {
				t.Errorf("round trip %v, want at least %v", rtt, tc.toTarget+tc.toClient)
			}
			t.Logf("injected %v+%v: one-way %v, round trip %v", tc.toTarget, tc.toClient, oneWay, rtt)
		})
	}
}

func TestRelaySetRTTSplitsEvenly(t *testing.T) {
	target := newEchoTarget(t)
	r := newRelay(t, target)
	r.SetRTT(31 * time.Millisecond)
	if up, down := r.Delays(); up+down != 31*time.Millisecond || up != 15500*time.Microsecond {
		t.Fatalf("SetRTT(31ms) gave %v + %v", up, down)
	}
	r.SetRTT(-time.Second)
	if up, down := r.Delays(); up != 0 || down != 0 {
		t.Fatalf("a negative RTT must mean no delay, got %v + %v", up, down)
	}
}

func TestRelayCutDropsAndRestoreResumes(t *testing.T) {
	target := newEchoTarget(t)
	r := newRelay(t, target)
	c := dialRelay(t, r)
	if _, _, ok := exchange(t, c, target, "before", 5*time.Second); !ok {
		t.Fatal("no echo before the cut")
	}

	r.Cut()
	if !r.IsCut() {
		t.Fatal("IsCut() = false after Cut")
	}
	if _, _, ok := exchange(t, c, target, "during", 300*time.Millisecond); ok {
		t.Fatal("an echo crossed a cut link")
	}
	if _, seen := target.arrival("during"); seen {
		t.Fatal("the target received a datagram sent over a cut link")
	}

	r.Restore()
	if _, _, ok := exchange(t, c, target, "after", 5*time.Second); !ok {
		t.Fatal("no echo after Restore")
	}
}

func TestRelayCutDropsDatagramsInFlight(t *testing.T) {
	target := newEchoTarget(t)
	r := newRelay(t, target)
	c := dialRelay(t, r)
	r.SetDelay(200*time.Millisecond, 0)
	if _, err := c.Write([]byte("in-flight")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // queued in the relay, not yet due
	r.Cut()
	time.Sleep(400 * time.Millisecond)
	if _, seen := target.arrival("in-flight"); seen {
		t.Fatal("a datagram in flight when the link was cut still arrived")
	}
}

func TestRelayKeepsClientsApart(t *testing.T) {
	target := newEchoTarget(t)
	r := newRelay(t, target)
	a, b := dialRelay(t, r), dialRelay(t, r)
	for i := range 3 {
		for name, c := range map[string]*net.UDPConn{"a": a, "b": b} {
			payload := fmt.Sprintf("%s-%d", name, i)
			if _, _, ok := exchange(t, c, target, payload, 5*time.Second); !ok {
				t.Fatalf("client %s got no echo of %q", name, payload)
			}
		}
	}
	r.mu.Lock()
	n := len(r.sessions)
	r.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d sessions for two clients", n)
	}
}

func TestRelayKeepsOrderWhenTheDelayShrinks(t *testing.T) {
	target := newEchoTarget(t)
	r := newRelay(t, target)
	c := dialRelay(t, r)
	r.SetDelay(100*time.Millisecond, 0)
	if _, err := c.Write([]byte("first")); err != nil {
		t.Fatal(err)
	}
	r.SetDelay(0, 0)
	if _, err := c.Write([]byte("second")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	var got []string
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < 2 {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, string(buf[:n]))
	}
	if got[0] != "first" || got[1] != "second" {
		t.Fatalf("datagrams overtook each other: %v", got)
	}
}

func TestListenRejectsBadAddresses(t *testing.T) {
	for _, tc := range []struct{ listen, target string }{
		{"not-an-address", "127.0.0.1:9"},
		{"127.0.0.1:0", "nowhere:port"},
	} {
		if r, err := Listen(tc.listen, tc.target); err == nil {
			r.Close()
			t.Errorf("Listen(%q, %q) accepted", tc.listen, tc.target)
		}
	}
}

func TestCloseIsIdempotentAndStopsForwarding(t *testing.T) {
	target := newEchoTarget(t)
	r := newRelay(t, target)
	c := dialRelay(t, r)
	if _, _, ok := exchange(t, c, target, "open", 5*time.Second); !ok {
		t.Fatal("no echo")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, ok := exchange(t, c, target, "closed", 300*time.Millisecond); ok {
		t.Fatal("echo through a closed relay")
	}
}
