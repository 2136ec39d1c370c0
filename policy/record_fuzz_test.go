package policy

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzRecordJSON: the hand-written encoder of the decision record (it runs on every
// admission) writes exactly what encoding/json writes for the same Record, for any class,
// source name, reason and cluster ids (control characters, HTML characters, invalid
// UTF-8, U+2028) and any bound or RTT.
func FuzzRecordJSON(f *testing.F) {
	f.Add("low", "render-1", "x\ty\\z", "edge", int64(20*time.Millisecond), int64(3*time.Millisecond), uint8(3), true)
	f.Add("", "a\"b<c>&\u2028\x01é\xff", "", "c\x00", int64(0), int64(-1), uint8(9), false)
	f.Fuzz(func(t *testing.T, class, source, reason, id string, bound, rtt int64, remotes uint8, local bool) {
		d := Decision{Hint: Hint{Class: class, BoundSource: Source{Kind: "pod", Name: source}, Placement: PlacementAny},
			Bound: time.Duration(bound), Local: local, Reason: reason}
		if source == "" {
			d.Hint.BoundSource = Source{}
		}
		for i := range int(remotes % 8) {
			d.Remote = append(d.Remote, Candidate{ID: id + string(rune('a'+i)), RTT: time.Duration(rtt), HasRTT: rtt > 0})
		}
		want, err := json.Marshal(d.Record())
		if err != nil {
			t.Fatal(err)
		}
		got := d.RecordJSON()
		if got != string(want) {
			t.Fatalf("RecordJSON:\n got %s\nwant %s", got, want)
		}
		if !json.Valid([]byte(got)) {
			t.Fatalf("RecordJSON is not valid JSON: %s", got)
		}
	})
}
