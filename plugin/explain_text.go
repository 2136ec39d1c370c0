package plugin

import (
	"bytes"
	"fmt"
	"io"
	"regexp"

	"k8s.io/cli-runtime/pkg/printers"

	outputv1 "github.com/kubexr/kubectl-xr/api/output/v1alpha1"
)

// printExplanation writes e as text: the hint, the clusters, the constraints, the pods.
// Each section is aligned on its own by cli-runtime's tab writer (kubectl's own
// settings), so a long cluster ID or pod name widens its column instead of breaking the
// alignment; trailing blanks are trimmed.
func printExplanation(out io.Writer, e *outputv1.Explanation) error {
	var b bytes.Buffer
	section := func(print func(w io.Writer)) {
		w := printers.GetNewTabWriter(&b)
		print(w)
		_ = w.Flush() // a bytes.Buffer does not fail
	}
	fmt.Fprintf(&b, "%s %s/%s\n\n", e.Target.Kind, e.Target.Namespace, e.Target.Name)
	switch {
	case e.HintError != "":
		section(func(w io.Writer) {
			fmt.Fprintf(w, "Hint:\tmalformed: %s\n\txr-webhook refuses to create such pods.\n", e.HintError)
		})
	case e.Hint == nil:
		section(func(w io.Writer) {
			fmt.Fprintln(w, "Hint:\tnone (no kubexr.io annotation on the pod, its owners or the namespace)")
			fmt.Fprintln(w, "\txr-webhook leaves such pods alone.")
		})
	default:
		section(func(w io.Writer) { printHint(w, e.Hint) })
		if !e.NamespaceEnabled {
			fmt.Fprintf(&b, "\nWarning: namespace %s is not enabled for xr-webhook (label kubexr.io/enabled=true, set by kubectl xr offload): its pods are NOT placed.\n", e.Target.Namespace)
		}
		section(func(w io.Writer) { printClusters(w, e) })
		printConstraints(&b, e.Constraints)
		section(func(w io.Writer) { printPods(w, e.Pods) })
	}
	_, err := io.WriteString(out, trailingBlanks.ReplaceAllString(b.String(), ""))
	return err
}

var trailingBlanks = regexp.MustCompile(`(?m)[ \t]+$`)

func printHint(w io.Writer, h *outputv1.ExplainedHint) {
	class, maxRTT := "-", "-"
	if h.Class != "" {
		class = fmt.Sprintf("%s (%s)", h.Class, h.ClassMaxRTT)
	}
	if h.MaxRTT != "" {
		maxRTT = h.MaxRTT
	}
	fmt.Fprintln(w, "Hint:")
	fmt.Fprintf(w, "  Class:\t%s\tfrom %s\n", class, h.BoundSource)
	fmt.Fprintf(w, "  Max RTT:\t%s\t\n", maxRTT)
	fmt.Fprintf(w, "  Placement:\t%s\tfrom %s\n", h.Placement, h.PlacementSource)
	fmt.Fprintf(w, "  Bound:\t%s\t\n", h.Bound)
	if h.Note != "" {
		fmt.Fprintf(w, "  Note:\t%s\t\n", h.Note)
	}
	fmt.Fprintf(w, "  Move:\t%s\tfrom %s\n", h.Move, h.MoveSource)
	fmt.Fprintf(w, "  Move after:\t%s\tfrom %s\n", h.MoveAfter, h.MoveAfterSource)
}

func printClusters(w io.Writer, e *outputv1.Explanation) {
	fmt.Fprintln(w, "\nClusters:")
	fmt.Fprintln(w, "  CLUSTER\tRTT\tELIGIBLE\tWHY NOT")
	fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", "local nodes", "0", yesNo(e.LocalEligible), "")
	for _, v := range e.Clusters {
		rtt := v.RTT
		if rtt == "" {
			rtt = "unknown"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", v.Cluster, rtt, yesNo(v.Eligible), v.Reason)
	}
	if e.Reason != "" {
		fmt.Fprintf(w, "  Reason: %s\n", e.Reason)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

var constraintsTitles = map[outputv1.ConstraintsState]string{
	outputv1.ConstraintsInjected:    "Constraints (injected when the pod was created):",
	outputv1.ConstraintsNotInjected: "Constraints: none injected (the pod was created without xr-webhook placing it); now it would get:",
	outputv1.ConstraintsWouldInject: "Constraints (would be injected into new pods now):",
}

func printConstraints(w io.Writer, c *outputv1.ExplainedConstraints) {
	fmt.Fprintln(w, "\n"+constraintsTitles[c.State])
	for i, t := range c.RequiredTerms {
		fmt.Fprintf(w, "  required term %d: %s\n", i+1, t)
	}
	if c.Toleration != "" {
		fmt.Fprintf(w, "  toleration: %s\n", c.Toleration)
	}
}

func printPods(w io.Writer, pods []outputv1.ExplainedPod) {
	fmt.Fprintln(w, "\nPods:")
	if len(pods) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	fmt.Fprintln(w, "  NAME\tPHASE\tNODE\tCLUSTER\tRTT\tVERDICT")
	for _, p := range pods {
		node, cluster, rtt := p.Node, p.Cluster, p.RTT
		verdict := p.Verdict
		if p.Node == "" {
			node, cluster, rtt = "<none>", "-", "-"
			verdict = "not scheduled"
			if p.Verdict != "" {
				verdict += ": " + p.Verdict
			}
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Phase, node, cluster, rtt, verdict)
	}
}
