package policy

import (
	"testing"
	"time"

	liqotime "github.com/liqotech/liqo/pkg/utils/time"
)

func TestParseLiqoLatency(t *testing.T) {
	cases := map[string]struct {
		in      string
		want    time.Duration
		wantOK  bool
		wantErr bool
	}{
		"milliseconds as Liqo writes them": {in: "12ms", want: 12 * time.Millisecond, wantOK: true},
		"Greek mu as Liqo writes it":       {in: "850μs", want: 850 * time.Microsecond, wantOK: true},
		"micro sign":                       {in: "850µs", want: 850 * time.Microsecond, wantOK: true},
		"ASCII us":                         {in: "850us", want: 850 * time.Microsecond, wantOK: true},
		"decimal":                          {in: "1.5ms", want: 1500 * time.Microsecond, wantOK: true},
		"seconds":                          {in: "2s", want: 2 * time.Second, wantOK: true},
		"N/A is no measurement":            {in: "N/A"},
		"empty is no measurement":          {in: ""},
		"word":                             {in: "fast", wantErr: true},
		"negative":                         {in: "-3ms", wantErr: true},
		"compound Go duration":             {in: "1m30s", wantErr: true},
		"hours":                            {in: "2h", wantErr: true},
		"longer than an hour":              {in: "3601s", wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok, err := ParseLiqoLatency(tc.in)
			if (err != nil) != tc.wantErr || ok != tc.wantOK || got != tc.want {
				t.Errorf("ParseLiqoLatency(%q) = %v, %v, %v; want %v, %v, error %v", tc.in, got, ok, err, tc.want, tc.wantOK, tc.wantErr)
			}
		})
	}
}

// Everything Liqo's own formatter produces must parse back to the same truncated value.
func TestParseLiqoLatencyReadsLiqoFormatLatency(t *testing.T) {
	for _, d := range []time.Duration{time.Microsecond, 850 * time.Microsecond, 999 * time.Microsecond,
		time.Millisecond, 12 * time.Millisecond, 12*time.Millisecond + 700*time.Microsecond, 1500 * time.Millisecond} {
		s := liqotime.FormatLatency(d)
		got, ok, err := ParseLiqoLatency(s)
		want := d.Truncate(time.Microsecond)
		if d >= time.Millisecond {
			want = d.Truncate(time.Millisecond)
		}
		if err != nil || !ok || got != want {
			t.Errorf("FormatLatency(%v) = %q parsed as %v, %v, %v; want %v", d, s, got, ok, err, want)
		}
	}
	if _, ok, err := ParseLiqoLatency(liqotime.FormatLatency(0)); ok || err != nil {
		t.Errorf("Liqo's zero latency %q must parse as no measurement, got ok=%v err=%v", liqotime.FormatLatency(0), ok, err)
	}
}

func TestFormatRTT(t *testing.T) {
	cases := map[time.Duration]string{
		0:                         "0s",
		850 * time.Microsecond:    "850µs",
		4 * time.Millisecond:      "4ms",
		4200 * time.Microsecond:   "4.2ms",
		14 * time.Millisecond:     "14ms",
		14600 * time.Microsecond:  "14.6ms",
		20040 * time.Microsecond:  "20ms",
		20400 * time.Microsecond:  "20.4ms",
		99960 * time.Microsecond:  "100ms",
		100 * time.Millisecond:    "100ms",
		123400 * time.Microsecond: "123ms",
		9960 * time.Microsecond:   "10ms",
	}
	for in, want := range cases {
		if got := FormatRTT(in); got != want {
			t.Errorf("FormatRTT(%v) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseLiqoLatency(f *testing.F) {
	for _, s := range []string{"12ms", "850μs", "850µs", "850us", "N/A", "", "1.5ms", "-1ms", "1e3ms", "..ms", "9999999999999s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok, err := ParseLiqoLatency(s)
		if err != nil && ok {
			t.Fatalf("%q: both an error and a value", s)
		}
		if ok && (d < 0 || d > time.Hour) {
			t.Fatalf("%q parsed to %v, outside [0, 1h]", s, d)
		}
	})
}
