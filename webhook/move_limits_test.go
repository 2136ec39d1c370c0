package webhook

import (
	"testing"
	"time"
)

func TestMoveWindowNeverExceedsTheRate(t *testing.T) {
	w := newMoveWindow(10, time.Minute)
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	taken := 0
	var retry time.Duration
	// 30 pods asking every second for two minutes.
	for s := 0; s < 120; s++ {
		now := t0.Add(time.Duration(s) * time.Second)
		for p := 0; p < 30; p++ {
			ok, after := w.take(now)
			if ok {
				taken++
			} else if s == 0 {
				retry = after
			}
		}
		// In every window of a minute ending now, at most 10 moves.
		if n := len(w.times); n > 10 {
			t.Fatalf("at %ds: %d moves in the last minute, limit 10", s, n)
		}
	}
	if taken != 20 {
		t.Errorf("moves in two minutes = %d, want 20 (10 per minute)", taken)
	}
	if retry != time.Minute {
		t.Errorf("retry after a full window = %v, want 1m", retry)
	}
	now := t0.Add(5 * time.Minute)
	if ok, _ := w.take(now); !ok {
		t.Fatal("an empty window refused a move")
	}
	w.giveBack(now)
	if len(w.times) != 0 {
		t.Errorf("giveBack left %d moves", len(w.times))
	}
}

func TestMoveStateReportsOncePerEpisodeAndBacksOff(t *testing.T) {
	s := newMoveState()
	if !s.report("p", "pdb") || s.report("p", "pdb") {
		t.Error("the same blocked reason must be reported exactly once in a row")
	}
	if !s.report("p", "rate-limit") {
		t.Error("a new reason must be reported")
	}
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var waits []time.Duration
	for range 7 {
		waits = append(waits, s.nextBackoff("p", t0))
	}
	if got := s.waitFor("p", t0.Add(time.Minute)); got != time.Minute {
		t.Errorf("held back %v after the last refusal's 2m backoff, 1m in; want 1m", got)
	}
	if got := s.waitFor("p", t0.Add(3*time.Minute)); got != 0 {
		t.Errorf("held back %v after the backoff ended, want 0", got)
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 2 * time.Minute, 2 * time.Minute}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("backoff = %v, want %v", waits, want)
		}
	}
	s.forget("p")
	if s.waitFor("p", t0) != 0 || !s.report("p", "pdb") || s.nextBackoff("p", t0) != firstBackoff {
		t.Error("forget must reset the report and the backoff")
	}
}
