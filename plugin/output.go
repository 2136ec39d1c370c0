package plugin

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/kubectl/pkg/cmd/get"
)

// listOutput prints a listing as kubectl get does, with kubectl's own print flags and
// printers: -o json|yaml|name|jsonpath|jsonpath-as-json|jsonpath-file|go-template|
// go-template-file|template|templatefile|custom-columns|custom-columns-file|wide,
// --no-headers, --show-labels, -L, --sort-by, --template and --show-managed-fields
// (managedFields are left out of JSON and YAML unless asked for, as kubectl does).
type listOutput struct {
	flags *get.PrintFlags
}

func addListOutput(cmd *cobra.Command) *listOutput {
	o := &listOutput{flags: get.NewGetPrintFlags()}
	o.flags.AddFlags(cmd)
	return o
}

// Validate refuses an unknown -o before anything is read, in one line naming the formats.
func (o *listOutput) Validate() error {
	_, err := o.printer()
	return err
}

// humanReadable: the listing is a table (no -o, -o wide), not the objects.
func (o *listOutput) humanReadable() bool {
	format := *o.flags.OutputFormat
	return (format == "" || format == "wide") && *o.flags.TemplateFlags.TemplateArgument == ""
}

func (o *listOutput) printer() (printers.ResourcePrinter, error) {
	p, err := o.flags.ToPrinter()
	if err != nil {
		return nil, err
	}
	if *o.flags.OutputFormat == "name" { // one line per item, as kubectl get -o name
		p = eachItem{p}
	}
	if sortBy := *o.flags.HumanReadableFlags.SortBy; sortBy != "" {
		p = &get.SortingPrinter{Delegate: p, SortField: sortBy, Decoder: scheme.Codecs.UniversalDecoder()}
	}
	return p, nil
}

// Print writes list (a typed List, its items of one kind) as the flags ask: the objects,
// or table() for human-readable output.
func (o *listOutput) Print(w io.Writer, list runtime.Object, table func() *metav1.Table) error {
	p, err := o.printer()
	if err != nil {
		return err
	}
	if sortBy := *o.flags.HumanReadableFlags.SortBy; sortBy != "" {
		items, err := meta.ExtractList(list)
		if err != nil {
			return err
		}
		if err := checkSortable(sortBy, items); err != nil {
			return err
		}
	}
	if o.humanReadable() {
		return p.PrintObj(table(), w)
	}
	if err := setKinds(list); err != nil {
		return err
	}
	return p.PrintObj(list, w)
}

// eachItem prints a list's items one by one (cli-runtime's name printer refuses lists),
// after the sorting printer above it has sorted the list.
type eachItem struct{ printers.ResourcePrinter }

func (e eachItem) PrintObj(obj runtime.Object, w io.Writer) error {
	if !meta.IsListType(obj) {
		return e.ResourcePrinter.PrintObj(obj, w)
	}
	items, err := meta.ExtractList(obj)
	if err != nil {
		return err
	}
	for _, item := range items {
		if err := e.ResourcePrinter.PrintObj(item, w); err != nil {
			return err
		}
	}
	return nil
}

// setKinds gives a typed list and its items their apiVersion and kind, which clients
// leave empty and JSON, YAML and name output need.
func setKinds(list runtime.Object) error {
	s := newScheme()
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	for _, obj := range append(items, list) {
		gvks, _, err := s.ObjectKinds(obj)
		if err != nil {
			return err
		}
		obj.GetObjectKind().SetGroupVersionKind(gvks[0])
	}
	return nil
}

// column is one table column; wide columns show only with -o wide.
type column struct {
	name string
	wide bool
}

// newTable is a table of rows under columns; objects[i] is row i's object, which
// --show-labels, -L and --sort-by read.
func newTable(columns []column, rows [][]any, objects []runtime.Object) *metav1.Table {
	t := &metav1.Table{}
	for _, c := range columns {
		priority := int32(0)
		if c.wide {
			priority = 1
		}
		t.ColumnDefinitions = append(t.ColumnDefinitions, metav1.TableColumnDefinition{Name: c.name, Type: "string", Priority: priority})
	}
	for i, r := range rows {
		t.Rows = append(t.Rows, metav1.TableRow{Cells: r, Object: runtime.RawExtension{Object: objects[i]}})
	}
	return t
}

// printObject writes obj (carrying its kind) as json or yaml, for the dry runs.
func printObject(w io.Writer, format string, obj runtime.Object) error {
	var p printers.ResourcePrinter
	switch format {
	case "json":
		p = &printers.JSONPrinter{}
	case "yaml":
		p = &printers.YAMLPrinter{}
	default:
		return fmt.Errorf("unknown output format %q: use json or yaml", format)
	}
	return (&printers.OmitManagedFieldsPrinter{Delegate: p}).PrintObj(obj, w)
}

// orDash renders empty cells as kubectl does.
func orDash(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// qualifiedKind is a kind as kubectl prints it: deployment.apps, namespace.
func qualifiedKind(gvk schema.GroupVersionKind) string {
	if gvk.Group == "" {
		return strings.ToLower(gvk.Kind)
	}
	return strings.ToLower(gvk.Kind) + "." + gvk.Group
}
