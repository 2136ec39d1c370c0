// Command xr-app is the demo's small XR test application, run as real containers on the
// demo's real nodes: `render` answers each pose it receives with a frame, over UDP;
// `client` sends poses at a headset's rate to every ready endpoint of the render
// Service — found in its EndpointSlices through the API server, since the test bed runs
// no kube-proxy — and logs the round trips it measures.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const usage = `usage: xr-app render [--listen :9000] [--frame-bytes 1200]
       xr-app client (--service NAME [--port NAME] | --render HOST:PORT) [--rate 90] [--report 5s]`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "xr-app:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	fs := flag.NewFlagSet("xr-app "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	switch args[0] {
	case "render":
		listen := fs.String("listen", ":9000", "UDP address to receive poses on")
		frame := fs.Int("frame-bytes", 1200, "size of each frame sent back (16 to 65000)")
		report := fs.Duration("report", 10*time.Second, "how often to log the counts")
		if err := fs.Parse(args[1:]); err != nil {
			return fmt.Errorf("%v\n%s", err, usage)
		}
		if *frame < poseBytes || *frame > 65000 {
			return fmt.Errorf("--frame-bytes %d: use 16 to 65000", *frame)
		}
		return render(ctx, *listen, *frame, *report, out)
	case "client":
		c := clientOptions{}
		fs.StringVar(&c.service, "service", "", "Service whose ready endpoints get the poses (found in its EndpointSlices)")
		fs.StringVar(&c.portName, "port", "pose", "name of the Service's UDP port")
		fs.StringVar(&c.fixed, "render", "", "send to this HOST:PORT instead of a Service's endpoints")
		fs.IntVar(&c.rate, "rate", 90, "poses per second to each endpoint (1 to 1000)")
		fs.DurationVar(&c.report, "report", 5*time.Second, "how often to log the round trips")
		if err := fs.Parse(args[1:]); err != nil {
			return fmt.Errorf("%v\n%s", err, usage)
		}
		if (c.service == "") == (c.fixed == "") {
			return fmt.Errorf("give one of --service or --render\n%s", usage)
		}
		if c.rate < 1 || c.rate > 1000 {
			return fmt.Errorf("--rate %d: use 1 to 1000 poses per second", c.rate)
		}
		return client(ctx, c, out)
	default:
		return fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
}
