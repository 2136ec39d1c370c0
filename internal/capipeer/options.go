package capipeer

import (
	"slices"
	"strings"

	nwforge "github.com/liqotech/liqo/pkg/liqo-controller-manager/networking/forge"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kubexr/kubectl-xr/internal/peering"
)

// Annotations on a Cluster that set its peering's options, as kubectl xr peer add's flags.
const (
	// AnnotationCPU, AnnotationMemory and AnnotationPods are the resources asked of the
	// provider in the peering's ResourceSlice (quantities; unset: what it offers).
	AnnotationCPU    = "kubexr.io/peer-cpu"
	AnnotationMemory = "kubexr.io/peer-memory"
	AnnotationPods   = "kubexr.io/peer-pods"
	// AnnotationNetworking is "enabled" (default) or "disabled" (no Liqo network fabric,
	// hence no measured latency).
	AnnotationNetworking = "kubexr.io/peer-networking"
	// AnnotationGatewayServiceType is the Service type of Liqo's gateway server on the
	// provider: LoadBalancer, NodePort or ClusterIP.
	AnnotationGatewayServiceType = "kubexr.io/peer-gateway-service-type"
)

var gatewayServiceTypes = []string{"LoadBalancer", "NodePort", "ClusterIP"}

// ClusterOptions are defaults with a Cluster's peering annotations applied, or what is
// wrong with them.
func ClusterOptions(annotations map[string]string, defaults peering.Options) (peering.Options, field.ErrorList) {
	o := defaults
	var errs field.ErrorList
	path := field.NewPath("metadata", "annotations")
	for key, into := range map[string]*string{AnnotationCPU: &o.CPU, AnnotationMemory: &o.Memory, AnnotationPods: &o.Pods} {
		v, ok := annotations[key]
		if !ok {
			continue
		}
		if q, err := resource.ParseQuantity(v); err != nil || q.Sign() < 0 {
			errs = append(errs, field.Invalid(path.Key(key), v, "must be a non-negative quantity, e.g. 4, 500m, 8Gi"))
			continue
		}
		*into = v
	}
	switch v, ok := annotations[AnnotationNetworking]; {
	case !ok:
	case v == "enabled":
		o.NetworkingDisabled = false
	case v == "disabled":
		o.NetworkingDisabled = true
	default:
		errs = append(errs, field.NotSupported(path.Key(AnnotationNetworking), v, []string{"enabled", "disabled"}))
	}
	if v, ok := annotations[AnnotationGatewayServiceType]; ok {
		if !slices.Contains(gatewayServiceTypes, v) {
			errs = append(errs, field.NotSupported(path.Key(AnnotationGatewayServiceType), v, gatewayServiceTypes))
		} else {
			o.GatewayServiceType = v
		}
	}
	if o.GatewayServiceType == "" {
		o.GatewayServiceType = string(nwforge.DefaultGwServerServiceType)
	}
	// Sorted, so the condition's message does not change from one reconcile to the next.
	slices.SortFunc(errs, func(a, b *field.Error) int { return strings.Compare(a.Field, b.Field) })
	return o, errs
}
