package main

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBadArgumentsSayWhatIsAccepted(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command"},
		{[]string{"dance"}, `unknown command "dance"`},
		{[]string{"render", "--frame-bytes", "8"}, "--frame-bytes 8: use 16 to 65000"},
		{[]string{"client"}, "give one of --service or --render"},
		{[]string{"client", "--service", "render", "--render", "127.0.0.1:1"}, "give one of --service or --render"},
		{[]string{"client", "--render", "127.0.0.1:1", "--rate", "0"}, "--rate 0: use 1 to 1000"},
		{[]string{"client", "--service", "render"}, "--service needs to run in a pod"},
		{[]string{"render", "--nope"}, "flag provided but not defined: -nope"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Setenv("KUBERNETES_SERVICE_HOST", "")
			err := run(context.Background(), tc.args, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
			}
		})
	}
}

// syncBuffer: the app writes from its goroutine while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestClientMeasuresRoundTripsToRender: render and client over loopback UDP; the client
// reports frames back with round trips, render counts the poses.
func TestClientMeasuresRoundTripsToRender(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.LocalAddr().String()
	l.Close()
	var renderOut, clientOut syncBuffer
	done := make(chan error, 2)
	go func() { done <- run(ctx, []string{"render", "--listen", addr, "--report", "300ms"}, &renderOut) }()
	time.Sleep(100 * time.Millisecond)
	go func() {
		done <- run(ctx, []string{"client", "--render", addr, "--rate", "200", "--report", "500ms"}, &clientOut)
	}()

	backLine := regexp.MustCompile(`client: to ` + regexp.QuoteMeta(addr) + `: (\d+) poses sent, ([1-9]\d*) frames back, round trip p50 \S+ p99 \S+`)
	deadline := time.Now().Add(10 * time.Second)
	for !backLine.MatchString(clientOut.String()) || !strings.Contains(renderOut.String(), " frames out, 1 clients") {
		if time.Now().After(deadline) {
			t.Fatalf("no round trips measured\nclient:\n%s\nrender:\n%s", clientOut.String(), renderOut.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Errorf("ended with %v", err)
		}
	}
}

func TestParseReadyEndpointsKeepsReadyUDPEndpointsOfThePort(t *testing.T) {
	body := `{"items":[
	  {"ports":[{"name":"pose","port":9000,"protocol":"UDP"}],
	   "endpoints":[{"addresses":["198.18.1.5"],"conditions":{"ready":true}},
	                {"addresses":["198.18.1.6"],"conditions":{"ready":false}},
	                {"addresses":["198.18.1.7"],"conditions":{}}]},
	  {"ports":[{"name":"pose","port":9000,"protocol":"TCP"}],"endpoints":[{"addresses":["198.18.1.8"]}]},
	  {"ports":[{"name":"other","port":9001,"protocol":"UDP"}],"endpoints":[{"addresses":["198.18.1.9"]}]}]}`
	got, err := parseReadyEndpoints([]byte(body), "pose")
	if err != nil {
		t.Fatal(err)
	}
	if want := "198.18.1.5:9000 198.18.1.7:9000"; strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
	if _, err := parseReadyEndpoints([]byte("{"), "pose"); err == nil {
		t.Error("a truncated list parsed")
	}
}
