package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// poseBytes: a pose carries its sequence number and the client's send time; the frame
// sent back starts with the same 16 bytes, so the client measures the round trip.
const poseBytes = 16

// render answers every pose with a frame of frameBytes until ctx ends.
func render(ctx context.Context, listen string, frameBytes int, report time.Duration, out io.Writer) error {
	conn, err := net.ListenPacket("udp", listen)
	if err != nil {
		return err
	}
	defer conn.Close()
	fmt.Fprintf(out, "render: listening on udp %s, %d-byte frames\n", conn.LocalAddr(), frameBytes)
	go func() { <-ctx.Done(); conn.Close() }()

	frame := make([]byte, frameBytes)
	buf := make([]byte, 2048)
	var poses, frames int
	clients := map[string]bool{}
	next := time.Now().Add(report)
	for {
		_ = conn.SetReadDeadline(next)
		n, from, err := conn.ReadFrom(buf)
		switch {
		case ctx.Err() != nil:
			return nil
		case isTimeout(err):
		case err != nil:
			return err
		case n >= poseBytes:
			poses++
			clients[from.String()] = true
			copy(frame, buf[:poseBytes])
			if _, err := conn.WriteTo(frame, from); err == nil {
				frames++
			}
		}
		if now := time.Now(); !now.Before(next) {
			fmt.Fprintf(out, "render: %d poses in, %d frames out, %d clients\n", poses, frames, len(clients))
			poses, frames, clients, next = 0, 0, map[string]bool{}, now.Add(report)
		}
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
