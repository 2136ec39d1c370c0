package plugin

import (
	"bytes"
	"testing"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	outputv1 "github.com/kubexr/kubectl-xr/api/output/v1alpha1"
)

// A --sort-by field kubectl's sorter cannot compare is refused in one line before it is
// reached (the sorter itself would klog.Exitf mid-sort); what it can compare sorts.
func TestSortByRefusesWhatKubectlsSorterCannotCompare(t *testing.T) {
	peers := &outputv1.PeerList{Items: []outputv1.Peer{
		{ObjectMeta: metav1.ObjectMeta{Name: "b", Labels: map[string]string{"x": "1"}}, ClusterID: "b", VirtualNodes: []string{"vk-b"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"x": "2"}}, ClusterID: "a", VirtualNodes: []string{"vk-a"}},
	}}
	for _, tc := range []struct {
		sortBy, output, want, wantErr string
	}{
		{sortBy: ".clusterID", output: "name", want: "peer.kubexr.io/a\npeer.kubexr.io/b\n"},
		{sortBy: "{.virtualNodes}", output: "name", want: "peer.kubexr.io/a\npeer.kubexr.io/b\n"},
		{sortBy: ".metadata.creationTimestamp", output: "name", want: "peer.kubexr.io/b\npeer.kubexr.io/a\n"},
		{sortBy: ".metadata.labels", output: "name",
			wantErr: "--sort-by .metadata.labels: the field is a map in some objects, which cannot be sorted: sort by a string, number, time or quantity field"},
		{sortBy: ".metadata.labels", output: "",
			wantErr: "--sort-by .metadata.labels: the field is a map in some objects, which cannot be sorted: sort by a string, number, time or quantity field"},
		{sortBy: ".metadata", output: "json",
			wantErr: "--sort-by .metadata: the field is an object (ObjectMeta) in some objects, which cannot be sorted: sort by a string, number, time or quantity field"},
		{sortBy: "{.clusterID", output: "name",
			wantErr: "--sort-by {.clusterID: unclosed action (give a JSONPath such as .metadata.name)"},
	} {
		t.Run(tc.sortBy+"/"+tc.output, func(t *testing.T) {
			cmd := &cobra.Command{}
			o := addListOutput(cmd)
			if err := cmd.ParseFlags([]string{"--sort-by", tc.sortBy, "-o", tc.output}); err != nil {
				t.Fatal(err)
			}
			list := peers.DeepCopy()
			var out bytes.Buffer
			err := o.Print(&out, list, func() *metav1.Table {
				objs := []runtime.Object{&list.Items[0], &list.Items[1]}
				return newTable([]column{{name: "ID"}}, [][]any{{list.Items[0].ClusterID}, {list.Items[1].ClusterID}}, objs)
			})
			switch {
			case tc.wantErr != "":
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("error = %v, want %q", err, tc.wantErr)
				}
			case err != nil:
				t.Errorf("error = %v", err)
			case out.String() != tc.want:
				t.Errorf("output = %q, want %q", out.String(), tc.want)
			}
		})
	}
}
