// Package gateways holds the test of Liqo's real gateways over the delay relay. It is
// built only with the "gateways" tag (make test-gateways); see gateways_test.go.
package gateways
