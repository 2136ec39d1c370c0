package plugin

import (
	"fmt"
	"io"

	outputv1 "github.com/kubexr/kubectl-xr/api/output/v1alpha1"
)

// printExplanation writes e as text: the hint, the clusters, the constraints, the pods.
func printExplanation(w io.Writer, e *outputv1.Explanation) {
	fmt.Fprintf(w, "%s %s/%s\n\n", e.Target.Kind, e.Target.Namespace, e.Target.Name)
	switch {
	case e.HintError != "":
		fmt.Fprintf(w, "Hint:        malformed: %s\n             xr-webhook refuses to create such pods.\n", e.HintError)
		return
	case e.Hint == nil:
		fmt.Fprintln(w, "Hint:        none (no kubexr.io annotation on the pod, its owners or the namespace)")
		fmt.Fprintln(w, "             xr-webhook leaves such pods alone.")
		return
	}
	printHint(w, e.Hint)
	if !e.NamespaceEnabled {
		fmt.Fprintf(w, "\nWarning: namespace %s is not enabled for xr-webhook (label kubexr.io/enabled=true, set by kubectl xr offload): its pods are NOT placed.\n", e.Target.Namespace)
	}
	printClusters(w, e)
	printConstraints(w, e.Constraints)
	printPods(w, e.Pods)
}

func printHint(w io.Writer, h *outputv1.ExplainedHint) {
	class, maxRTT := "-", "-"
	if h.Class != "" {
		class = fmt.Sprintf("%s (%s)", h.Class, h.ClassMaxRTT)
	}
	if h.MaxRTT != "" {
		maxRTT = h.MaxRTT
	}
	fmt.Fprintf(w, "Hint:\n  Class:       %s    from %s\n  Max RTT:     %s\n  Placement:   %s    from %s\n  Bound:       %s\n",
		class, h.BoundSource, maxRTT, h.Placement, h.PlacementSource, h.Bound)
	if h.Note != "" {
		fmt.Fprintf(w, "  Note:        %s\n", h.Note)
	}
	fmt.Fprintf(w, "  Move:        %s    from %s\n  Move after:  %s    from %s\n", h.Move, h.MoveSource, h.MoveAfter, h.MoveAfterSource)
}

func printClusters(w io.Writer, e *outputv1.Explanation) {
	fmt.Fprintln(w, "\nClusters:")
	local := "no"
	if e.LocalEligible {
		local = "yes"
	}
	fmt.Fprintf(w, "  %-20s %-10s %s\n", "local nodes", "0", "eligible: "+local)
	for _, v := range e.Clusters {
		rtt := v.RTT
		if rtt == "" {
			rtt = "unknown"
		}
		why := "eligible"
		if !v.Eligible {
			why = "not eligible: " + v.Reason
		}
		fmt.Fprintf(w, "  %-20s %-10s %s\n", v.Cluster, rtt, why)
	}
	if e.Reason != "" {
		fmt.Fprintf(w, "  Reason:      %s\n", e.Reason)
	}
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
	for _, p := range pods {
		if p.Node == "" {
			stranded := ""
			if p.Verdict != "" {
				stranded = ": " + p.Verdict
			}
			fmt.Fprintf(w, "  %-40s %s (not scheduled)%s\n", p.Name, p.Phase, stranded)
			continue
		}
		fmt.Fprintf(w, "  %-40s %-10s on %-22s cluster %-16s RTT %-10s %s\n", p.Name, p.Phase, p.Node, p.Cluster, p.RTT, p.Verdict)
	}
}
