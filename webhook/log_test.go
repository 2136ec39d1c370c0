package webhook_test

import (
	"os"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// XR_TEST_LOG=1 shows the in-process xr-webhooks' logs (reconcile errors, moves);
// otherwise they are discarded.
func init() {
	if os.Getenv("XR_TEST_LOG") != "" {
		ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.UseDevMode(true)))
		return
	}
	ctrl.SetLogger(logr.Discard())
}
