package policy

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Source names the object a hint value came from, e.g. deployment/render.
type Source struct {
	// Kind is lower-case: pod, replicaset, deployment, statefulset, daemonset, job,
	// cronjob, namespace; empty for a built-in default.
	Kind string
	Name string
}

func (s Source) String() string {
	if s.Kind == "" {
		return "default"
	}
	return s.Kind + "/" + s.Name
}

// Annotated is one source of hints: an object's kind, name and annotations.
type Annotated struct {
	Source      Source
	Annotations map[string]string
}

// Hint is the effective hint of a pod after precedence.
type Hint struct {
	// Class is the LatencyClass asked for ("" if none); ClassMaxRTT its bound (0 = unbounded).
	Class       string
	ClassMaxRTT time.Duration
	// MaxRTT is the explicit kubexr.io/max-rtt (0 if none).
	MaxRTT time.Duration
	// BoundSource is where the class and max-rtt came from; both come from the most
	// specific source that states either, so a workload's "best-effort" is never
	// tightened by a namespace's max-rtt.
	BoundSource Source
	Placement   Placement
	// PlacementSource is where placement came from (Kind "" for the default, any).
	PlacementSource Source
	// Move is whether the mover may move the pod (auto) or not (never, the default);
	// MoveSource is where it came from (Kind "" for the default).
	Move       Move
	MoveSource Source
	// MoveAfter is how long the pod's cluster must stay out of the bound before the pod
	// is moved: kubexr.io/move-after, else the class's spec.moveAfter (source kind
	// "latencyclass"), else DefaultMoveAfter (Kind "").
	MoveAfter       time.Duration
	MoveAfterSource Source
}

// DefaultMoveAfter is the move delay when neither a hint nor the class sets one.
const DefaultMoveAfter = 30 * time.Second

// maxMoveAfter bounds kubexr.io/move-after and spec.moveAfter: a longer delay is a typo,
// and "never" says "do not move" plainly.
const maxMoveAfter = 24 * time.Hour

// Present reports whether any source stated a hint. A pod with no hint is left alone.
func (h Hint) Present() bool {
	return h.Class != "" || h.MaxRTT > 0 || h.PlacementSource.Kind != ""
}

// Bound is the effective round-trip bound: the tighter of the class's and max-rtt
// (0 = unbounded).
func (h Hint) Bound() time.Duration {
	switch {
	case h.ClassMaxRTT > 0 && h.MaxRTT > 0:
		return min(h.ClassMaxRTT, h.MaxRTT)
	case h.MaxRTT > 0:
		return h.MaxRTT
	default:
		return h.ClassMaxRTT
	}
}

// Note explains a non-obvious combination, or is empty.
func (h Hint) Note() string {
	if h.ClassMaxRTT > 0 && h.MaxRTT > h.ClassMaxRTT {
		return fmt.Sprintf("%s %s is looser than class %s (%s): the class bound applies",
			AnnotationMaxRTT, FormatRTT(h.MaxRTT), h.Class, FormatRTT(h.ClassMaxRTT))
	}
	return ""
}

// HintError is one malformed hint value.
type HintError struct {
	Key, Value string
	// Reason completes "<key>: "<value>" <reason>", e.g. `is not a duration (use e.g. "15ms")`.
	Reason string
}

func (e *HintError) Error() string {
	return fmt.Sprintf("%s: %q %s", e.Key, e.Value, e.Reason)
}

// objectHint is what one object's annotations state.
type objectHint struct {
	class        string
	classMaxRTT  time.Duration
	maxRTT       time.Duration
	placement    Placement
	move         Move
	moveAfter    time.Duration
	hasMoveAfter bool
}

func (o objectHint) hasBound() bool { return o.class != "" || o.maxRTT > 0 }

// ValidateAnnotations checks the hint annotations of one object (pod, workload, pod
// template or namespace) and returns every malformed value, or nil.
func ValidateAnnotations(annotations map[string]string, classes ClassSet) error {
	_, errs := parseObject(annotations, classes)
	return errors.Join(errs.bound, errs.placement, errs.move, errs.moveAfter)
}

// objectErrors are one object's parse errors, split by what they would invalidate.
type objectErrors struct{ bound, placement, move, moveAfter error }

func parseObject(annotations map[string]string, classes ClassSet) (objectHint, objectErrors) {
	var o objectHint
	var boundErrs []error
	var errs objectErrors
	if v, ok := annotations[AnnotationLatencyClass]; ok {
		c, found := classes.Get(v)
		if !found {
			boundErrs = append(boundErrs, &HintError{AnnotationLatencyClass, v,
				"is not a known LatencyClass (known: " + strings.Join(classes.Names(), ", ") + ")"})
		}
		o.class, o.classMaxRTT = v, c.MaxRTT
	}
	if v, ok := annotations[AnnotationMaxRTT]; ok {
		d, err := parseMaxRTT(v)
		if err != nil {
			boundErrs = append(boundErrs, err)
		}
		o.maxRTT = d
	}
	errs.bound = errors.Join(boundErrs...)
	if v, ok := annotations[AnnotationPlacement]; ok {
		switch p := Placement(v); p {
		case PlacementAny, PlacementLocal, PlacementRemote:
			o.placement = p
		default:
			errs.placement = &HintError{AnnotationPlacement, v, "is not a placement (use any, local or remote)"}
		}
	}
	if v, ok := annotations[AnnotationMove]; ok {
		switch m := Move(v); m {
		case MoveAuto, MoveNever:
			o.move = m
		default:
			errs.move = &HintError{AnnotationMove, v, "is not a move policy (use auto or never)"}
		}
	}
	if v, ok := annotations[AnnotationMoveAfter]; ok {
		d, err := ParseMoveAfter(v)
		if err != nil {
			errs.moveAfter = &HintError{AnnotationMoveAfter, v, err.Error()}
		}
		o.moveAfter, o.hasMoveAfter = d, err == nil
	}
	return o, errs
}

// ParseMoveAfter reads a move delay ("30s", "2m", "0s" to move at once): a Go duration
// from 0 to 24h. The error completes "<value> ...".
func ParseMoveAfter(v string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	switch {
	case err != nil:
		return 0, errors.New(`is not a duration (use e.g. "30s" or "2m")`)
	case d < 0:
		return 0, errors.New(`is negative (use e.g. "30s", or "0s" to move at once)`)
	case d > maxMoveAfter:
		return 0, errors.New(`is longer than 24h (use kubexr.io/move: never to keep pods where they run)`)
	}
	return d, nil
}

func parseMaxRTT(v string) (time.Duration, error) {
	s := strings.TrimSpace(v)
	negative := strings.HasPrefix(s, "-")
	d, err := parsePositiveDuration(strings.TrimPrefix(s, "-"))
	switch {
	case err == nil && (negative || d == 0), s != "" && strings.Trim(s, "-0.") == "":
		// A bound no cluster can meet is a mistake, not a request.
		return 0, &HintError{AnnotationMaxRTT, v, `must be greater than zero (use e.g. "15ms")`}
	case errors.Is(err, errTooLarge):
		return 0, &HintError{AnnotationMaxRTT, v, `is longer than an hour (use e.g. "15ms", or no max-rtt for no bound)`}
	case err != nil:
		return 0, &HintError{AnnotationMaxRTT, v, `is not a duration (use e.g. "15ms")`}
	}
	return d, nil
}

// Resolve computes the effective hint from sources ordered most specific first: the pod,
// its owners nearest first (ReplicaSet, Deployment; Job, CronJob), then the namespace.
// The class and max-rtt come together from the first source that states either;
// placement from the first that states it. Values shadowed by a more specific source
// are not used, and so not checked. Errors name the source.
func Resolve(sources []Annotated, classes ClassSet) (Hint, error) {
	h := Hint{Placement: PlacementAny, Move: MoveNever}
	boundDone, placementDone, moveDone, moveAfterDone := false, false, false, false
	for _, src := range sources {
		if boundDone && placementDone && moveDone && moveAfterDone {
			break
		}
		if !hasHintKeys(src.Annotations) {
			continue
		}
		o, errs := parseObject(src.Annotations, classes)
		if !boundDone && (o.hasBound() || errs.bound != nil) {
			if errs.bound != nil {
				return Hint{}, fmt.Errorf("%s: %w", src.Source, errs.bound)
			}
			h.Class, h.ClassMaxRTT, h.MaxRTT, h.BoundSource = o.class, o.classMaxRTT, o.maxRTT, src.Source
			boundDone = true
		}
		if !placementDone && (o.placement != "" || errs.placement != nil) {
			if errs.placement != nil {
				return Hint{}, fmt.Errorf("%s: %w", src.Source, errs.placement)
			}
			h.Placement, h.PlacementSource = o.placement, src.Source
			placementDone = true
		}
		if !moveDone && (o.move != "" || errs.move != nil) {
			if errs.move != nil {
				return Hint{}, fmt.Errorf("%s: %w", src.Source, errs.move)
			}
			h.Move, h.MoveSource = o.move, src.Source
			moveDone = true
		}
		if !moveAfterDone && (o.hasMoveAfter || errs.moveAfter != nil) {
			if errs.moveAfter != nil {
				return Hint{}, fmt.Errorf("%s: %w", src.Source, errs.moveAfter)
			}
			h.MoveAfter, h.MoveAfterSource = o.moveAfter, src.Source
			moveAfterDone = true
		}
	}
	if !moveAfterDone {
		h.MoveAfter = DefaultMoveAfter
		if c, ok := classes.Get(h.Class); ok && c.HasMoveAfter {
			h.MoveAfter, h.MoveAfterSource = c.MoveAfter, Source{Kind: "latencyclass", Name: c.Name}
		}
	}
	return h, nil
}

// AnyHint reports whether any source carries a hint key: when none does, Evaluate leaves
// the pod alone whatever else it is given, so callers may skip reading the rest.
func AnyHint(sources []Annotated) bool {
	for _, s := range sources {
		if hasHintKeys(s.Annotations) {
			return true
		}
	}
	return false
}

func hasHintKeys(a map[string]string) bool {
	if len(a) == 0 {
		return false
	}
	for _, k := range HintKeys {
		if _, ok := a[k]; ok {
			return true
		}
	}
	return false
}
