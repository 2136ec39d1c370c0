// Command xr-demo is `make demo`: the XR scenario end to end on a local sandbox.
//
//	xr-demo run     start the sandbox in the background, then play the scenario with the
//	                real kubectl and kubectl-xr binaries, print a summary, exit 0 only if
//	                every pod landed within its latency bound
//	xr-demo sandbox the background process: a consumer and three provider clusters with
//	                Liqo's real control plane, Liqo's gateways over the delay relay (or,
//	                without root or /dev/net/tun, Connection latencies written as Liqo's
//	                gateway writes them), the real xr-webhook binary; it takes commands on
//	                a unix socket in the demo folder
//	xr-demo down    stop the sandbox and remove every process, namespace and link
//
// Everything lives in one folder (make demo uses .demo/ in the checkout).
package main
