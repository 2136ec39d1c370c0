package policy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// NotApplicable is what Liqo's gateway writes when it has no measurement.
const NotApplicable = "N/A"

// ParseLiqoLatency reads a Connection's status.latency.value as Liqo's gateway writes it
// (pkg/utils/time.FormatLatency: "12ms", "850μs" with a Greek mu, "N/A"). It also accepts
// the micro sign "µs", "us", "ns", "s" and decimals. ok is false for "N/A" and "".
func ParseLiqoLatency(s string) (rtt time.Duration, ok bool, err error) {
	s = strings.TrimSpace(s)
	if s == "" || s == NotApplicable {
		return 0, false, nil
	}
	d, err := parsePositiveDuration(s)
	if err != nil {
		return 0, false, fmt.Errorf("latency %q: %w", s, err)
	}
	return d, true, nil
}

// parsePositiveDuration parses a number and one unit (ns, us, µs, μs, ms, s), a plain
// decimal so that "1.5ms" works, and refuses anything time.ParseDuration would take but
// a latency never is ("1h", "1m30s", "-2ms").
func parsePositiveDuration(s string) (time.Duration, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i <= 0 {
		return 0, errNotDuration
	}
	num, unit := s[:i], s[i:]
	var scale time.Duration
	switch unit {
	case "ns":
		scale = time.Nanosecond
	case "us", "µs", "μs": // ASCII, micro sign U+00B5, Greek mu U+03BC (Liqo's)
		scale = time.Microsecond
	case "ms":
		scale = time.Millisecond
	case "s":
		scale = time.Second
	default:
		return 0, errNotDuration
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, errNotDuration
	}
	d := v * float64(scale)
	if d > float64(time.Hour) {
		return 0, errTooLarge
	}
	return time.Duration(d), nil
}

var (
	errNotDuration = fmt.Errorf("not a duration")
	errTooLarge    = fmt.Errorf("longer than an hour")
)

// FormatRTT prints an RTT the way users read it: at most one decimal of a millisecond
// below 100ms, whole milliseconds from there, microseconds under a millisecond ("14ms",
// "20.4ms", "4.2ms", "120ms", "850µs"). The decimal matters near class bounds: the
// kubexr.io/rtt annotation must not read "20ms" for a cluster just over a 20ms bound.
func FormatRTT(d time.Duration) string {
	var buf [24]byte
	return string(appendRTT(buf[:0], d))
}

func appendRTT(dst []byte, d time.Duration) []byte {
	switch {
	case d <= 0:
		return append(dst, "0s"...)
	case d < time.Millisecond:
		return append(strconv.AppendInt(dst, d.Microseconds(), 10), "µs"...)
	case d < 100*time.Millisecond:
		tenths := d.Round(100*time.Microsecond) / (100 * time.Microsecond)
		dst = strconv.AppendInt(dst, int64(tenths/10), 10)
		if tenths%10 != 0 {
			dst = append(append(dst, '.'), byte('0'+tenths%10))
		}
		return append(dst, "ms"...)
	default:
		return append(strconv.AppendInt(dst, d.Round(time.Millisecond).Milliseconds(), 10), "ms"...)
	}
}
