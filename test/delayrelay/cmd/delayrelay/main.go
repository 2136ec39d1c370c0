// Command delayrelay runs a delay relay as a process of its own, so that all of its
// threads, the Go runtime's network poller included, can run with real-time scheduling
// (the sandbox starts it under chrt): in a process shared with test code, a poller thread
// waiting for the CPU would delay datagrams by milliseconds.
//
//	delayrelay --listen HOST:PORT --target HOST:PORT
//
// It prints "listening HOST:PORT", then reads commands from stdin, one a line, and
// answers each with "ok" or "error: ...": "delay TO_TARGET TO_CLIENT" (durations),
// "cut", "restore". It exits when stdin closes.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kubexr/kubectl-xr/test/delayrelay"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address clients send to")
	target := flag.String("target", "", "address datagrams are forwarded to")
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "delayrelay: --target is required")
		os.Exit(2)
	}
	r, err := delayrelay.Listen(*listen, *target)
	if err != nil {
		fmt.Fprintln(os.Stderr, "delayrelay:", err)
		os.Exit(1)
	}
	defer r.Close()
	fmt.Println("listening", r.Addr())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if err := command(r, strings.Fields(in.Text())); err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println("ok")
	}
}

func command(r *delayrelay.Relay, f []string) error {
	switch {
	case len(f) == 3 && f[0] == "delay":
		up, err := time.ParseDuration(f[1])
		if err != nil {
			return err
		}
		down, err := time.ParseDuration(f[2])
		if err != nil {
			return err
		}
		r.SetDelay(up, down)
	case len(f) == 1 && f[0] == "cut":
		r.Cut()
	case len(f) == 1 && f[0] == "restore":
		r.Restore()
	default:
		return fmt.Errorf("unknown command %q (delay UP DOWN | cut | restore)", strings.Join(f, " "))
	}
	return nil
}
