package sandbox

import (
	liqov1beta1 "github.com/liqotech/liqo/apis/core/v1beta1"
	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	xrv1 "github.com/kubexr/kubectl-xr/api/v1alpha1"
)

// NewScheme returns a scheme with the core Kubernetes types, CRDs, Liqo's, Cluster API's and kubectl-xr's LatencyClass.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(apiextensionsv1.AddToScheme(s))
	utilruntime.Must(liqov1beta1.AddToScheme(s))
	utilruntime.Must(networkingv1beta1.AddToScheme(s))
	utilruntime.Must(offloadingv1beta1.AddToScheme(s))
	utilruntime.Must(clusterv1.AddToScheme(s))
	utilruntime.Must(xrv1.AddToScheme(s))
	return s
}
