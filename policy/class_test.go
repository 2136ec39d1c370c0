package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultClassesOrderAndBounds(t *testing.T) {
	set := MustDefaultClassSet()
	var got []string
	for _, c := range set.Classes() {
		got = append(got, c.Name+"="+FormatRTT(c.MaxRTT))
		if c.Description == "" {
			t.Errorf("class %s has no description naming its source", c.Name)
		}
	}
	want := []string{"ultra-low=10ms", "low=20ms", "interactive=50ms", "moderate=100ms", "best-effort=0s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("default classes (-want +got):\n%s", diff)
	}
}

func TestTightestMet(t *testing.T) {
	set := MustDefaultClassSet()
	cases := map[string]struct {
		rtt  time.Duration
		want string
	}{
		"sub-millisecond":    {850 * time.Microsecond, "ultra-low"},
		"exactly on a bound": {10 * time.Millisecond, "ultra-low"},
		"just over a bound":  {10*time.Millisecond + time.Microsecond, "low"},
		"interactive":        {38 * time.Millisecond, "interactive"},
		"beyond every bound": {250 * time.Millisecond, "best-effort"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok := set.TightestMet(tc.rtt)
			if !ok || got.Name != tc.want {
				t.Errorf("TightestMet(%v) = %q, %v; want %q", tc.rtt, got.Name, ok, tc.want)
			}
		})
	}
}

func TestNewClassSetRejects(t *testing.T) {
	cases := map[string]struct {
		classes []Class
		want    string
	}{
		"duplicate":  {[]Class{{Name: "a", MaxRTT: time.Millisecond}, {Name: "a", MaxRTT: 2 * time.Millisecond}}, `latency class "a" is defined twice`},
		"empty name": {[]Class{{MaxRTT: time.Millisecond}}, "latency class with an empty name"},
		"negative":   {[]Class{{Name: "neg", MaxRTT: -time.Millisecond}}, `latency class "neg": maxRTT -1ms is negative`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewClassSet(tc.classes)
			if err == nil || err.Error() != tc.want {
				t.Errorf("NewClassSet error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseClass(t *testing.T) {
	c, err := ParseClass("edge", "15ms", "", "d")
	if err != nil || c.MaxRTT != 15*time.Millisecond {
		t.Errorf("ParseClass(15ms) = %+v, %v", c, err)
	}
	c, err = ParseClass("any", "", "", "")
	if err != nil || c.Bounded() {
		t.Errorf("ParseClass(empty) = %+v, %v; want unbounded", c, err)
	}
	_, err = ParseClass("bad", "soon", "", "")
	want := `LatencyClass "bad": spec.maxRTT "soon" is not a positive duration (use e.g. "20ms", or leave it empty for unbounded)`
	if err == nil || err.Error() != want {
		t.Errorf("ParseClass(soon) error = %v, want %q", err, want)
	}
}
