package sandbox

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
)

// tcpForwarder makes a loopback-only API server reachable from a gateway's network
// namespace: it listens on the host end of the namespace's veth and copies bytes to the
// API server (TLS passes through untouched).
type tcpForwarder struct {
	listener net.Listener
	target   string

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	cut    bool
	wg     sync.WaitGroup
}

func newTCPForwarder(listenIP net.IP, target string) (*tcpForwarder, error) {
	return newTCPForwarderOn(net.JoinHostPort(listenIP.String(), "0"), target)
}

// newTCPForwarderOn forwards what arrives at listen (host:port) to target.
func newTCPForwarderOn(listen, target string) (*tcpForwarder, error) {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("forward %s: listen on %s: %w", target, listen, err)
	}
	f := &tcpForwarder{listener: l, target: target, conns: map[net.Conn]struct{}{}}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

func (f *tcpForwarder) addr() string { return f.listener.Addr().String() }

func (f *tcpForwarder) serve() {
	defer f.wg.Done()
	for {
		in, err := f.listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		f.mu.Lock()
		cut := f.cut
		f.mu.Unlock()
		if cut {
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", f.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		if !f.track(in, out) {
			return
		}
		f.wg.Add(2)
		go f.pipe(out, in)
		go f.pipe(in, out)
	}
}

// track records a connection pair so close can end it; false once closed.
func (f *tcpForwarder) track(conns ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		for _, c := range conns {
			_ = c.Close()
		}
		return false
	}
	for _, c := range conns {
		f.conns[c] = struct{}{}
	}
	return true
}

func (f *tcpForwarder) pipe(dst, src net.Conn) {
	defer f.wg.Done()
	_, _ = io.Copy(dst, src)
	// Either side ending ends both: a half-open API connection helps nobody.
	_ = dst.Close()
	_ = src.Close()
	f.mu.Lock()
	delete(f.conns, dst)
	delete(f.conns, src)
	f.mu.Unlock()
}

func (f *tcpForwarder) close() {
	f.mu.Lock()
	f.closed = true
	for c := range f.conns {
		_ = c.Close()
	}
	f.mu.Unlock()
	_ = f.listener.Close()
	f.wg.Wait()
}

// setCut drops every connection and refuses new ones while cut.
func (f *tcpForwarder) setCut(cut bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = cut
	if cut {
		for c := range f.conns {
			_ = c.Close()
		}
	}
}

// CuttableProxy is a loopback TCP proxy in front of an API server (TLS passes through;
// the server's certificate is valid for 127.0.0.1). A test routes one client through it
// and cuts that client off from the API server while everyone else stays connected.
type CuttableProxy struct{ f *tcpForwarder }

// NewCuttableProxy listens on 127.0.0.1 and forwards to target (host:port).
func NewCuttableProxy(target string) (*CuttableProxy, error) {
	f, err := newTCPForwarder(net.IPv4(127, 0, 0, 1), target)
	if err != nil {
		return nil, err
	}
	return &CuttableProxy{f: f}, nil
}

// Addr is the proxy's host:port.
func (p *CuttableProxy) Addr() string { return p.f.addr() }

// Cut drops the connections through the proxy and refuses new ones until Cut(false).
func (p *CuttableProxy) Cut(cut bool) { p.f.setCut(cut) }

// Close stops the proxy and ends its connections.
func (p *CuttableProxy) Close() { p.f.close() }
