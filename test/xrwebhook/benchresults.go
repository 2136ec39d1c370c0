package xrwebhook

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// WriteBenchResults writes a benchmark's figures as JSON to $KUBEXR_BENCH_OUT and its
// table (Markdown) next to it as .md, when make bench sets it; a smoke run writes nothing.
func WriteBenchResults(t *testing.T, figures any, table string) {
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
