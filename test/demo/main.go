package main

import (
	"context"

	"fmt"
	"github.com/go-logr/logr"
	"os"
	"os/signal"
	"path/filepath"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"strconv"
	"syscall"
)

const usage = `usage: xr-demo run|sandbox|down [--dir DIR] [--bin DIR]
  run      start the demo sandbox and play the XR scenario (DEMO_KEEP=0: stop it at the end)
  sandbox  the background sandbox process (started by run)
  down     stop the demo sandbox`

func main() {
	os.Exit(mainExit(os.Args[1:]))
}

func mainExit(args []string) int {
	// The sandbox harness and clients log through controller-runtime; the demo reports
	// through its own output and the processes' log files.
	ctrllog.SetLogger(logr.Discard())
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	dir, bin := ".demo", "bin"
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case "--dir", "--bin":
			if i+1 == len(rest) {
				fmt.Fprintf(os.Stderr, "xr-demo: %s needs a value\n%s\n", rest[i], usage)
				return 2
			}
			if rest[i] == "--dir" {
				dir = rest[i+1]
			} else {
				bin = rest[i+1]
			}
			i++
		default:
			fmt.Fprintf(os.Stderr, "xr-demo: unknown argument %q\n%s\n", rest[i], usage)
			return 2
		}
	}
	dir, err := filepath.Abs(dir)
	if err == nil {
		bin, err = filepath.Abs(bin)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "xr-demo:", err)
		return 1
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	switch cmd {
	case "run":
		keep := true
		if v := os.Getenv("DEMO_KEEP"); v != "" {
			if keep, err = strconv.ParseBool(v); err != nil {
				fmt.Fprintf(os.Stderr, "xr-demo: DEMO_KEEP=%q: use 1 (keep the sandbox running, the default) or 0 (stop it at the end)\n", v)
				return 2
			}
		}
		return runScenario(ctx, dir, bin, keep)
	case "sandbox":
		if err := serveSandbox(ctx, dir, bin); err != nil {
			fmt.Fprintln(os.Stderr, "xr-demo sandbox:", err)
			return 1
		}
		return 0
	case "down":
		if err := down(dir); err != nil {
			fmt.Fprintln(os.Stderr, "xr-demo down:", err)
			return 1
		}
		return 0
	default:
		fmt.Fprintf(os.Stderr, "xr-demo: unknown command %q\n%s\n", cmd, usage)
		return 2
	}
}
