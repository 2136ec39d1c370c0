package main

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubexr/kubectl-xr/policy"
)

func node(name, cluster, rtt string) corev1.Node {
	n := corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}, Annotations: map[string]string{}}}
	if cluster != "" {
		n.Labels[policy.LiqoRemoteClusterIDLabel] = cluster
	}
	if rtt != "" {
		n.Annotations[policy.AnnotationRTT] = rtt
	}
	return n
}

func pod(name, nodeName, decision string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": strings.Split(name, "-")[0]}},
		Spec: corev1.PodSpec{NodeName: nodeName}}
	if decision != "" {
		p.Annotations = map[string]string{policy.AnnotationDecision: decision}
	}
	return p
}

func TestSummarizeJudgesEachPodAgainstItsRecordedBound(t *testing.T) {
	nodes := []corev1.Node{
		node("local-1", "", ""),
		node("edge-athens", "edge-athens", "27ms"),
		node("edge-frankfurt", "edge-frankfurt", "15.2ms"),
		node("cloud-geneva", "cloud-geneva", ""),
	}
	lowRec := `{"class":"low","bound":"20ms","source":"workload","placement":"remote","local":false}`
	cases := []struct {
		pod         corev1.Pod
		cluster     string
		within      bool
		whyContains string
	}{
		{pod("stream-a", "edge-frankfurt", lowRec), "edge-frankfurt", true, ""},
		{pod("stream-b", "edge-athens", lowRec), "edge-athens", false, "27ms over the 20ms bound"},
		{pod("render-a", "local-1", `{"class":"ultra-low","bound":"10ms","source":"workload","placement":"any","local":true}`), "consumer (local)", true, ""},
		{pod("analytics-a", "edge-athens", `{"class":"best-effort","bound":"none","source":"workload","placement":"remote","local":false}`), "edge-athens", true, ""},
		{pod("client-a", "cloud-geneva", `{"class":"interactive","bound":"50ms","source":"workload","placement":"any","local":true}`), "cloud-geneva", false, "no RTT published"},
		{pod("client-b", "", `{"class":"interactive","bound":"50ms","source":"workload","placement":"any","local":true}`), "-", false, "not scheduled"},
		{pod("client-c", "local-1", ""), "-", false, "no xr-webhook decision"},
		{pod("client-d", "local-1", "{not json"), "-", false, "no xr-webhook decision"},
	}
	var pods []corev1.Pod
	for _, c := range cases {
		pods = append(pods, c.pod)
	}
	rows := summarize(pods, nodes)
	byPod := map[string]row{}
	for _, r := range rows {
		byPod[r.Pod] = r
	}
	for _, c := range cases {
		r, ok := byPod[c.pod.Name]
		if !ok {
			t.Fatalf("%s missing from the summary", c.pod.Name)
		}
		if r.Cluster != c.cluster || r.Within != c.within || !strings.Contains(r.Why, c.whyContains) {
			t.Errorf("%s: got cluster %q within %t why %q; want %q %t containing %q",
				c.pod.Name, r.Cluster, r.Within, r.Why, c.cluster, c.within, c.whyContains)
		}
	}
	var out bytes.Buffer
	if bad := printSummary(&out, rows); bad != 5 {
		t.Errorf("printSummary counted %d pods out of bound, want 5\n%s", bad, out.String())
	}
	if !strings.Contains(out.String(), "NO: 27ms over the 20ms bound") {
		t.Errorf("table does not say why stream-b is out of bound:\n%s", out.String())
	}
}
