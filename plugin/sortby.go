package plugin

import (
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/jsonpath"
	"k8s.io/kubectl/pkg/cmd/get"
)

// checkSortable refuses, in one line, a --sort-by field that kubectl's sorter cannot
// compare. Why: get.SortingPrinter meets such a field (a map, a bool, an unset
// pointer) deep inside sort.Sort and calls klog.Exitf — the process exits with 255 and
// klog's formatting, or nothing at all where klog's output is discarded. The walk below
// accepts exactly what that sorter's isLess compares.
func checkSortable(field string, objs []runtime.Object) error {
	if len(objs) < 2 { // the sorter compares nothing
		return nil
	}
	expr, err := get.RelaxedJSONPathExpression(field)
	if err != nil {
		expr = field
	}
	parser := jsonpath.New("sorting").AllowMissingKeys(true)
	if err := parser.Parse(expr); err != nil {
		return fmt.Errorf("--sort-by %s: %v (give a JSONPath such as .metadata.name)", field, err)
	}
	for _, obj := range objs {
		results, err := parser.FindResults(reflect.ValueOf(obj).Elem().Interface())
		if err != nil || len(results) == 0 || len(results[0]) == 0 {
			continue // missing values sort first, as kubectl does
		}
		if what := unsortable(results[0][0]); what != "" {
			return fmt.Errorf("--sort-by %s: the field is %s in some objects, which cannot be sorted: sort by a string, number, time or quantity field", field, what)
		}
	}
	return nil
}

// unsortable names what in v kubectl's isLess cannot compare, or returns "".
func unsortable(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.String:
		return ""
	case reflect.Pointer:
		if v.IsNil() {
			return "an unset value"
		}
		return unsortable(v.Elem())
	case reflect.Struct:
		if t := v.Type(); t == reflect.TypeFor[metav1.Time]() || t == reflect.TypeFor[resource.Quantity]() {
			return ""
		}
		for i := range v.NumField() {
			if unsortable(v.Field(i)) != "" {
				return "an object (" + v.Type().Name() + ")"
			}
		}
		return ""
	case reflect.Array, reflect.Slice:
		for i := range v.Len() {
			if what := unsortable(v.Index(i)); what != "" {
				return "a list holding " + what
			}
		}
		return ""
	case reflect.Invalid:
		return "an unset value"
	default: // map, bool, interface, …
		return "a " + v.Kind().String()
	}
}
