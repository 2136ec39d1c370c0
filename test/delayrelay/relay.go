package delayrelay

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// maxDatagram is larger than any datagram the relay carries (WireGuard with MTU 1340).
const maxDatagram = 65535

// queueLength bounds the datagrams in flight per direction and client; beyond it the
// relay drops, as a full link would.
const queueLength = 4096

// Relay forwards datagrams between any number of clients and one target. Each client
// gets its own upstream socket, so the target sees one peer per client, and replies go
// back to the client they answer.
type Relay struct {
	listen *net.UDPConn
	target *net.UDPAddr

	mu       sync.Mutex
	toTarget time.Duration
	toClient time.Duration
	cut      bool
	sessions map[string]*session
	closed   bool

	wg sync.WaitGroup
}

// Listen starts a relay on listenAddr ("host:port"; port 0 picks one) forwarding to
// targetAddr, with no delay.
func Listen(listenAddr, targetAddr string) (*Relay, error) {
	laddr, err := net.ResolveUDPAddr("udp", listenAddr)
	if err != nil {
		return nil, fmt.Errorf("relay listen address %q: %w", listenAddr, err)
	}
	target, err := net.ResolveUDPAddr("udp", targetAddr)
	if err != nil {
		return nil, fmt.Errorf("relay target address %q: %w", targetAddr, err)
	}
	conn, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return nil, fmt.Errorf("relay listen on %s: %w", listenAddr, err)
	}
	r := &Relay{listen: conn, target: target, sessions: map[string]*session{}}
	r.wg.Add(1)
	go r.serveClients()
	return r, nil
}

// Addr is the address clients send to.
func (r *Relay) Addr() *net.UDPAddr { return r.listen.LocalAddr().(*net.UDPAddr) }

// SetDelay sets each direction's one-way delay; datagrams already in flight keep theirs.
func (r *Relay) SetDelay(toTarget, toClient time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.toTarget, r.toClient = max(toTarget, 0), max(toClient, 0)
}

// SetRTT splits a round-trip delay evenly between the two directions.
func (r *Relay) SetRTT(rtt time.Duration) { r.SetDelay(SplitRTT(rtt)) }

// SplitRTT is the even split of a round trip into the two one-way delays (the odd
// nanosecond goes back to the client).
func SplitRTT(rtt time.Duration) (toTarget, toClient time.Duration) { return rtt / 2, rtt - rtt/2 }

// Delays returns the current one-way delays.
func (r *Relay) Delays() (toTarget, toClient time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.toTarget, r.toClient
}

// Cut drops every datagram, in both directions, including those in flight, until Restore.
func (r *Relay) Cut() { r.setCut(true) }

// Restore ends a Cut.
func (r *Relay) Restore() { r.setCut(false) }

// IsCut reports whether the link is cut.
func (r *Relay) IsCut() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cut
}

func (r *Relay) setCut(cut bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cut = cut
}

// Close stops the relay and waits for its goroutines.
func (r *Relay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	sessions := r.sessions
	r.sessions = nil
	r.mu.Unlock()
	err := r.listen.Close()
	for _, s := range sessions {
		s.close()
	}
	r.wg.Wait()
	return err
}

// admit stamps a datagram with its release time, or reports that it is dropped.
func (r *Relay) admit(toTarget bool) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cut || r.closed {
		return time.Time{}, false
	}
	delay := r.toClient
	if toTarget {
		delay = r.toTarget
	}
	return time.Now().Add(delay), true
}

func (r *Relay) serveClients() {
	defer r.wg.Done()
	highPriorityThread()
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := r.listen.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s, err := r.session(from)
		if err != nil {
			continue // the datagram is lost, as on a link without a route
		}
		if at, ok := r.admit(true); ok {
			s.up.push(datagram{data: append([]byte(nil), buf[:n]...), release: at})
		}
	}
}

// session returns the client's session, opening its upstream socket on first use.
func (r *Relay) session(client *net.UDPAddr) (*session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, net.ErrClosed
	}
	if s, ok := r.sessions[client.String()]; ok {
		return s, nil
	}
	upstream, err := net.DialUDP("udp", nil, r.target)
	if err != nil {
		return nil, fmt.Errorf("relay dial %s: %w", r.target, err)
	}
	s := &session{relay: r, client: client, upstream: upstream}
	s.up = newDelayLine(&r.wg, r.stillOpen, func(b []byte) { _, _ = upstream.Write(b) })
	s.down = newDelayLine(&r.wg, r.stillOpen, func(b []byte) { _, _ = r.listen.WriteToUDP(b, client) })
	r.sessions[client.String()] = s
	r.wg.Add(1)
	go s.serveTarget()
	return s, nil
}

// stillOpen is checked again when a datagram is due: a Cut drops what is in flight too.
func (r *Relay) stillOpen() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.cut && !r.closed
}

// session is one client's path through the relay.
type session struct {
	relay    *Relay
	client   *net.UDPAddr
	upstream *net.UDPConn
	up, down *delayLine
}

func (s *session) serveTarget() {
	defer s.relay.wg.Done()
	highPriorityThread()
	buf := make([]byte, maxDatagram)
	for {
		n, err := s.upstream.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // e.g. ICMP port unreachable while the target restarts
		}
		if at, ok := s.relay.admit(false); ok {
			s.down.push(datagram{data: append([]byte(nil), buf[:n]...), release: at})
		}
	}
}

func (s *session) close() {
	_ = s.upstream.Close()
	s.up.close()
	s.down.close()
}
