package webhook_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// steadyLoad creates hinted pods in namespace at a fixed rate, one after the other,
// straight to the API server, and counts the admissions that fail.
type steadyLoad struct {
	mu       sync.Mutex
	created  int
	failures []error
	stop     chan struct{}
	done     chan struct{}
}

// startSteadyLoad creates a pod named prefix-N with annotations every interval until Stop.
func startSteadyLoad(ctx context.Context, c client.Client, namespace, prefix string, annotations map[string]string, interval time.Duration) *steadyLoad {
	l := &steadyLoad{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			err := c.Create(ctx, barePod(namespace, fmt.Sprintf("%s-%d", prefix, i), annotations))
			l.mu.Lock()
			l.created++
			if err != nil {
				l.failures = append(l.failures, err)
			}
			l.mu.Unlock()
		}
	}()
	return l
}

// Stop ends the load and returns how many pods it created and the failed admissions.
func (l *steadyLoad) Stop() (int, []error) {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.created, l.failures
}

// inParallel calls do(1), …, do(n), each once, from workers goroutines, and returns when
// all have returned. The callers keep their own bookkeeping (do must be safe to call
// concurrently).
func inParallel(workers, n int, do func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				do(int(i))
			}
		}()
	}
	wg.Wait()
}
