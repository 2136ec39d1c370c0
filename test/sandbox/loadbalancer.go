package sandbox

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// ServiceStandIn is a STAND-IN for a Service in front of a Deployment's pods, for
// processes that run on this machine instead of in pods: a loopback TCP listener that
// sends each new connection to the next ready endpoint (round robin), as kube-proxy does
// for a ClusterIP. Like conntrack, connections already open stay with their endpoint
// when it is removed; a removed endpoint gets no new connection. It carries bytes only
// (TLS passes through).
type ServiceStandIn struct {
	listener net.Listener

	mu        sync.Mutex
	endpoints []string
	ready     map[string]bool
	next      int
	conns     map[net.Conn]struct{}
	closed    bool
	wg        sync.WaitGroup
}

// NewServiceStandIn listens on 127.0.0.1 with the given endpoints (host:port), all ready.
func NewServiceStandIn(endpoints ...string) (*ServiceStandIn, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("service stand-in: %w", err)
	}
	s := &ServiceStandIn{listener: l, endpoints: endpoints, ready: map[string]bool{}, conns: map[net.Conn]struct{}{}}
	for _, e := range endpoints {
		s.ready[e] = true
	}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Port is the port the stand-in listens on, on 127.0.0.1.
func (s *ServiceStandIn) Port() int { return s.listener.Addr().(*net.TCPAddr).Port }

// SetReady adds (true) or removes (false) an endpoint, as the EndpointSlice controller
// does when a pod turns ready or starts terminating.
func (s *ServiceStandIn) SetReady(endpoint string, ready bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ready[endpoint] = ready
}

// pick returns the next ready endpoint, or "" if none.
func (s *ServiceStandIn) pick() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range s.endpoints {
		e := s.endpoints[s.next%len(s.endpoints)]
		s.next++
		if s.ready[e] {
			return e
		}
	}
	return ""
}

func (s *ServiceStandIn) serve() {
	defer s.wg.Done()
	for {
		in, err := s.listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		target := s.pick()
		if target == "" {
			_ = in.Close() // no endpoint: refused, as a Service without endpoints
			continue
		}
		out, err := net.Dial("tcp", target)
		if err != nil {
			_ = in.Close()
			continue
		}
		if !s.track(in, out) {
			return
		}
		s.wg.Add(2)
		go s.pipe(out, in)
		go s.pipe(in, out)
	}
}

func (s *ServiceStandIn) track(conns ...net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		s.conns[c] = struct{}{}
	}
	return true
}

func (s *ServiceStandIn) pipe(dst, src net.Conn) {
	defer s.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	s.mu.Lock()
	delete(s.conns, dst)
	delete(s.conns, src)
	s.mu.Unlock()
}

// Close stops the stand-in and ends its connections.
func (s *ServiceStandIn) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	_ = s.listener.Close()
	s.wg.Wait()
}
