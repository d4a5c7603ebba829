// Package simtest starts CRM simulators for tests: on a free loopback
// port, validating every answer against the OpenAPI document, closed when
// the test ends, and failing the test if any answer was invalid.
package simtest

import (
	"testing"

	"github.com/gormic/crm-bridge/internal/crmsim"
)

// Start starts a simulator with opts (ValidateResponses forced on).
func Start(t testing.TB, opts crmsim.Options) *crmsim.Simulator {
	t.Helper()
	opts.ValidateResponses = true
	sim, err := crmsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sim.Close()
		for _, err := range sim.ResponseErrors() {
			t.Errorf("simulator answer invalid: %v", err)
		}
	})
	return sim
}
