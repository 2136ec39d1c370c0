package version

import "testing"

func TestReleased(t *testing.T) {
	for v, want := range map[string]bool{
		"v0.3.0": true, "v1.2.3-rc.1": true, "v1.0.0+build.5": true,
		"dev": false, "0848621": false, "0848621-dirty": false, "v0.3.0-4-g0848621": false,
		"v0.3.0-4-g0848621-dirty": false, "v0.3.0-dirty": false, "0.3.0": false, "v0.3": false,
	} {
		if got := Released(v); got != want {
			t.Errorf("Released(%q) = %v, want %v", v, got, want)
		}
	}
}
