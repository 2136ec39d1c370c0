package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Class is a named round-trip bound between this cluster and the serving cluster.
type Class struct {
	Name string
	// MaxRTT is the bound; 0 means unbounded.
	MaxRTT      time.Duration
	Description string
	// MoveAfter is the class's move delay (spec.moveAfter) when HasMoveAfter; otherwise
	// DefaultMoveAfter applies.
	MoveAfter    time.Duration
	HasMoveAfter bool
}

// Bounded reports whether the class limits the RTT at all.
func (c Class) Bounded() bool { return c.MaxRTT > 0 }

// DefaultClasses are compiled in, so placement works before any LatencyClass object
// exists; the same set ships as manifests. Sources: the design brief's table.
func DefaultClasses() []Class {
	return []Class{
		{Name: "ultra-low", MaxRTT: 10 * time.Millisecond, Description: "Motion and pose data: 3GPP TS 23.501 5QI 87/88 (5/10 ms one-way)."},
		{Name: "low", MaxRTT: 20 * time.Millisecond, Description: "Split-rendered XR video: 5QI 89/90 (15/20 ms); the 15 ms end-to-end XR bound."},
		{Name: "interactive", MaxRTT: 50 * time.Millisecond, Description: "Interaction: 3GPP TR 26.823 \"ultra-low\" < 50 ms; 5QI 3 (real-time gaming)."},
		{Name: "moderate", MaxRTT: 100 * time.Millisecond, Description: "TR 26.823 \"low\" < 100 ms; 5QI 7."},
		{Name: "best-effort", MaxRTT: 0, Description: "Buffered flows, no bound: 5QI 6/8/9."},
	}
}

// ClassSet is an immutable set of classes ordered from the tightest bound to unbounded.
type ClassSet struct {
	classes []Class
}

// NewClassSet orders classes by bound (unbounded last, then by name) and refuses
// duplicate or empty names and negative bounds.
func NewClassSet(classes []Class) (ClassSet, error) {
	sorted := slices.Clone(classes)
	for _, c := range sorted {
		if c.Name == "" {
			return ClassSet{}, fmt.Errorf("latency class with an empty name")
		}
		if c.MaxRTT < 0 {
			return ClassSet{}, fmt.Errorf("latency class %q: maxRTT %s is negative", c.Name, c.MaxRTT)
		}
	}
	slices.SortFunc(sorted, func(a, b Class) int {
		if a.Bounded() != b.Bounded() {
			if a.Bounded() {
				return -1
			}
			return 1
		}
		if a.MaxRTT != b.MaxRTT {
			return cmp.Compare(a.MaxRTT, b.MaxRTT)
		}
		return strings.Compare(a.Name, b.Name)
	})
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Name == sorted[i-1].Name {
			return ClassSet{}, fmt.Errorf("latency class %q is defined twice", sorted[i].Name)
		}
	}
	return ClassSet{classes: sorted}, nil
}

// MustDefaultClassSet is the compiled-in set.
func MustDefaultClassSet() ClassSet {
	s, err := NewClassSet(DefaultClasses())
	if err != nil {
		panic(err) // programmer error: the defaults are constants
	}
	return s
}

// Classes returns the classes, tightest first.
func (s ClassSet) Classes() []Class { return slices.Clone(s.classes) }

// Get returns the class called name.
func (s ClassSet) Get(name string) (Class, bool) {
	for _, c := range s.classes {
		if c.Name == name {
			return c, true
		}
	}
	return Class{}, false
}

// Names lists the class names in alphabetical order, for error messages.
func (s ClassSet) Names() []string {
	names := make([]string, len(s.classes))
	for i, c := range s.classes {
		names[i] = c.Name
	}
	slices.Sort(names)
	return names
}

// TightestMet returns the tightest class whose bound rtt meets (rtt <= MaxRTT), or the
// loosest (unbounded) one; ok is false if no class admits rtt.
func (s ClassSet) TightestMet(rtt time.Duration) (Class, bool) {
	i := s.tightestIndex(rtt)
	if i == len(s.classes) {
		return Class{}, false
	}
	return s.classes[i], true
}

// tightestIndex is the position of the tightest class rtt meets, len(classes) if none.
func (s ClassSet) tightestIndex(rtt time.Duration) int {
	for i, c := range s.classes {
		if !c.Bounded() || rtt <= c.MaxRTT {
			return i
		}
	}
	return len(s.classes)
}

// ParseClass builds a Class from a LatencyClass object's fields.
func ParseClass(name, maxRTT, moveAfter, description string) (Class, error) {
	c := Class{Name: name, Description: description}
	if moveAfter != "" {
		d, err := ParseMoveAfter(moveAfter)
		if err != nil {
			return Class{}, fmt.Errorf("LatencyClass %q: spec.moveAfter %q %v", name, moveAfter, err)
		}
		c.MoveAfter, c.HasMoveAfter = d, true
	}
	if maxRTT == "" {
		return c, nil
	}
	d, err := parsePositiveDuration(maxRTT)
	if err != nil || d == 0 {
		return Class{}, fmt.Errorf("LatencyClass %q: spec.maxRTT %q is not a positive duration (use e.g. \"20ms\", or leave it empty for unbounded)", name, maxRTT)
	}
	c.MaxRTT = d
	return c, nil
}
