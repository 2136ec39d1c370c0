package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"sync"
	"time"
)

type clientOptions struct {
	service, portName, fixed string
	rate                     int
	report                   time.Duration
}

// link is what the client measured to one render endpoint since the last report.
type link struct {
	sent, back int
	rtts       []time.Duration
}

// client sends poses to every render endpoint and logs, per endpoint, how many frames
// came back and their round trips.
func client(ctx context.Context, o clientOptions, out io.Writer) error {
	conn, err := net.ListenPacket("udp", ":0")
	if err != nil {
		return err
	}
	defer conn.Close()
	go func() { <-ctx.Done(); conn.Close() }()

	var mu sync.Mutex
	links := map[string]*link{}
	go func() { // frames back
		buf := make([]byte, 65536)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < poseBytes {
				continue
			}
			sent := time.Unix(0, int64(binary.BigEndian.Uint64(buf[8:16])))
			mu.Lock()
			if l := links[from.String()]; l != nil {
				l.back++
				l.rtts = append(l.rtts, time.Since(sent))
			}
			mu.Unlock()
		}
	}()

	targets := func(ctx context.Context) ([]string, error) { return []string{o.fixed}, nil }
	if o.service != "" {
		api, err := inClusterAPI()
		if err != nil {
			return err
		}
		targets = func(ctx context.Context) ([]string, error) { return api.readyEndpoints(ctx, o.service, o.portName) }
	}
	fmt.Fprintf(out, "client: %d poses per second to each endpoint of %s\n", o.rate, o.service+o.fixed)

	tick := time.NewTicker(time.Second / time.Duration(o.rate))
	defer tick.Stop()
	report := time.NewTicker(o.report)
	defer report.Stop()
	var endpoints []string
	var lookupErr string
	lookup := func() {
		eps, err := targets(ctx)
		switch {
		case err != nil && err.Error() != lookupErr:
			lookupErr = err.Error()
			fmt.Fprintf(out, "client: %v\n", err)
		case err == nil:
			lookupErr = ""
			endpoints = eps
		}
	}
	lookup()
	refresh := time.NewTicker(2 * time.Second)
	defer refresh.Stop()
	pose := make([]byte, poseBytes)
	var seq uint64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-refresh.C:
			lookup()
		case <-report.C:
			mu.Lock()
			printReport(out, links, endpoints)
			links = map[string]*link{}
			mu.Unlock()
		case <-tick.C:
			for _, ep := range endpoints {
				addr, err := net.ResolveUDPAddr("udp", ep)
				if err != nil {
					continue
				}
				seq++
				binary.BigEndian.PutUint64(pose[0:8], seq)
				binary.BigEndian.PutUint64(pose[8:16], uint64(time.Now().UnixNano()))
				mu.Lock()
				l := links[addr.String()]
				if l == nil {
					l = &link{}
					links[addr.String()] = l
				}
				l.sent++
				mu.Unlock()
				_, _ = conn.WriteTo(pose, addr)
			}
		}
	}
}

// printReport logs one line per endpoint: poses sent, frames back, round-trip p50/p99.
func printReport(out io.Writer, links map[string]*link, endpoints []string) {
	if len(endpoints) == 0 {
		fmt.Fprintln(out, "client: no ready render endpoint")
		return
	}
	names := make([]string, 0, len(links))
	for name := range links {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		l := links[name]
		if len(l.rtts) == 0 {
			fmt.Fprintf(out, "client: to %s: %d poses sent, 0 frames back\n", name, l.sent)
			continue
		}
		slices.Sort(l.rtts)
		fmt.Fprintf(out, "client: to %s: %d poses sent, %d frames back, round trip p50 %v p99 %v\n",
			name, l.sent, l.back, quantile(l.rtts, 0.5), quantile(l.rtts, 0.99))
	}
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))].Round(time.Microsecond)
}
