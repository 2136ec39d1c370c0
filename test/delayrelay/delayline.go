package delayrelay

import (
	"runtime"
	"sync"
	"time"
)

// spinBefore is how long before a release the line stops sleeping on a timer and yields
// in a loop instead: Go's timers may fire up to about a millisecond late (the runtime's
// poller waits in whole milliseconds), which would add up to 2 ms to every round trip.
// The links carry a few datagrams a second, so the spin costs nothing measurable.
const spinBefore = 1500 * time.Microsecond

// datagram is one payload and the moment it may leave.
type datagram struct {
	data    []byte
	release time.Time
}

// delayLine sends datagrams in arrival order, each no earlier than its release time.
// Keeping the order (no overtaking when the delay shrinks) is what a real link does.
type delayLine struct {
	queue chan datagram
	done  chan struct{}
	once  sync.Once
}

func newDelayLine(wg *sync.WaitGroup, open func() bool, send func([]byte)) *delayLine {
	l := &delayLine{queue: make(chan datagram, queueLength), done: make(chan struct{})}
	wg.Add(1)
	go func() {
		defer wg.Done()
		l.run(open, send)
	}()
	return l
}

// push queues a datagram, dropping it when the line is full or closed.
func (l *delayLine) push(d datagram) {
	select {
	case <-l.done:
	case l.queue <- d:
	default:
	}
}

func (l *delayLine) close() { l.once.Do(func() { close(l.done) }) }

func (l *delayLine) run(open func() bool, send func([]byte)) {
	highPriorityThread()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var d datagram
		select {
		case <-l.done:
			return
		case d = <-l.queue:
		}
		if wait := time.Until(d.release) - spinBefore; wait > 0 {
			timer.Reset(wait)
			select {
			case <-l.done:
				return
			case <-timer.C:
			}
		}
		for time.Now().Before(d.release) {
			runtime.Gosched()
		}
		if open() {
			send(d.data)
		}
	}
}
