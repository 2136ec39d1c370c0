package plugin

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/printers"
)

// outputFormats are what -o accepts; "" and "wide" are tables.
var outputFormats = []string{"", "wide", "json", "yaml", "name"}

func validateOutput(format string) error {
	if !slices.Contains(outputFormats, format) {
		return fmt.Errorf("unknown output format %q: use one of wide, json, yaml, name", format)
	}
	return nil
}

// column is one table column; wide columns show only with -o wide.
type column struct {
	name string
	wide bool
}

// printTable writes rows under columns as kubectl does.
func printTable(w io.Writer, columns []column, rows [][]any, wide bool) error {
	t := &metav1.Table{}
	for _, c := range columns {
		priority := int32(0)
		if c.wide {
			priority = 1
		}
		t.ColumnDefinitions = append(t.ColumnDefinitions, metav1.TableColumnDefinition{Name: c.name, Type: "string", Priority: priority})
	}
	for _, r := range rows {
		t.Rows = append(t.Rows, metav1.TableRow{Cells: r})
	}
	return printers.NewTablePrinter(printers.PrintOptions{Wide: wide}).PrintObj(t, w)
}

// printObject writes obj as json, yaml or name (obj must carry its kind).
func printObject(w io.Writer, format string, obj runtime.Object) error {
	var p printers.ResourcePrinter
	switch format {
	case "json":
		p = &printers.JSONPrinter{}
	case "yaml":
		p = &printers.YAMLPrinter{}
	case "name":
		p = &printers.NamePrinter{}
		if meta.IsListType(obj) {
			items, err := meta.ExtractList(obj)
			if err != nil {
				return err
			}
			for _, item := range items {
				if err := p.PrintObj(item, w); err != nil {
					return err
				}
			}
			return nil
		}
	default:
		return fmt.Errorf("unknown output format %q", format)
	}
	return p.PrintObj(obj, w)
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
