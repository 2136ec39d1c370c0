// Package benchout writes a benchmark's figures where make bench asks for them.
package benchout

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// Write writes a benchmark's figures as JSON to $KUBEXR_BENCH_OUT and its
// table (Markdown) next to it as .md, when make bench sets it; a smoke run writes nothing.
func Write(t *testing.T, figures any, table string) {
	t.Helper()
	out := os.Getenv("KUBEXR_BENCH_OUT")
	if out == "" {
		return
	}
	data, err := json.MarshalIndent(figures, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(strings.TrimSuffix(out, ".json")+".md", []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Millis is a duration in milliseconds with microsecond resolution, as the tables print it.
func Millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
