package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubexr/kubectl-xr/policy"
)

// row is one pod in the summary.
type row struct {
	Pod, App, Class, Bound, Cluster, RTT string
	Within                               bool
	Why                                  string // when not within
}

// summarize judges every pod against the bound xr-webhook recorded on it, using the RTT
// the observer publishes on its node (the consumer's own nodes are 0 ms away).
func summarize(pods []corev1.Pod, nodes []corev1.Node) []row {
	byName := map[string]*corev1.Node{}
	for i := range nodes {
		byName[nodes[i].Name] = &nodes[i]
	}
	rows := make([]row, 0, len(pods))
	for _, p := range pods {
		r := row{Pod: p.Name, App: p.Labels["app"], Class: "-", Bound: "-", Cluster: "-", RTT: "-"}
		raw, ok := p.Annotations[policy.AnnotationDecision]
		rec, err := policy.ParseRecord(raw)
		if !ok || err != nil {
			r.Why = "no xr-webhook decision on the pod"
			rows = append(rows, r)
			continue
		}
		r.Class, r.Bound = rec.Class, rec.Bound
		if r.Class == "" {
			r.Class = "(max-rtt)"
		}
		node := byName[p.Spec.NodeName]
		switch {
		case p.Spec.NodeName == "":
			r.Why = "not scheduled"
		case node == nil:
			r.Why = "node " + p.Spec.NodeName + " not found"
		default:
			r.Cluster, r.RTT, r.Within, r.Why = judge(node, rec.Bound)
		}
		rows = append(rows, r)
	}
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.App+a.Pod, b.App+b.Pod) })
	return rows
}

// judge returns the node's cluster, its RTT and whether that is within bound.
func judge(node *corev1.Node, bound string) (cluster, rtt string, within bool, why string) {
	id, remote := node.Labels[policy.LiqoRemoteClusterIDLabel]
	if !remote {
		return consumerName + " (local)", "0", true, ""
	}
	rtt = node.Annotations[policy.AnnotationRTT]
	if bound == "none" {
		return id, orUnknown(rtt), true, ""
	}
	limit, err := time.ParseDuration(bound)
	if err != nil {
		return id, orUnknown(rtt), false, fmt.Sprintf("bound %q unreadable", bound)
	}
	got, err := time.ParseDuration(rtt)
	if err != nil {
		return id, orUnknown(rtt), false, "no RTT published for " + id
	}
	if got > limit {
		return id, rtt, false, fmt.Sprintf("%s over the %s bound", rtt, bound)
	}
	return id, rtt, true, ""
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// printSummary writes the table and returns how many pods are not within their bound.
func printSummary(w io.Writer, rows []row) int {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POD\tCLASS\tBOUND\tCLUSTER\tRTT\tWITHIN BOUND")
	bad := 0
	for _, r := range rows {
		verdict := "yes"
		if !r.Within {
			verdict = "NO: " + r.Why
			bad++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Pod, r.Class, r.Bound, r.Cluster, r.RTT, verdict)
	}
	_ = tw.Flush()
	return bad
}
