package main

import (
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/proctest"
)

// crm_bridge_dead_letters_waiting counts the dead letters in CRM_DLQ: up
// as the bridge dead-letters commands, down after a discard and a replay.
func TestDeadLettersWaitingGauge(t *testing.T) {
	w := newWorld(t)
	w.sim.ForceError(crmsim.OpCreate, "COMPACT_INACTIVE", 1)
	p := startProgram(t, w.env(), "run")
	addr := p.logValue(t, "http listening", "addr")
	w.waitConsumers()
	vars := map[string]string{"BRIDGE_NATS_URL": w.srv.ClientURL()}
	waiting := func(want float64) {
		t.Helper()
		var got float64
		if !eventually.Within(30*time.Second, func() bool {
			got = proctest.Metric(t, addr, "crm_bridge_dead_letters_waiting")
			return got == want
		}) {
			t.Fatalf("crm_bridge_dead_letters_waiting: got %v, want %v", got, want)
		}
	}
	waiting(0)

	w.publishAsync(w.subj.Create(), "c-forced", []byte(`{"firstName":"Ada","phone":"5550100"}`))
	w.waitPublished()
	waiting(1) // before the others, so that c-forced meets the forced error
	w.publishAsync(w.subj.Create(), "c-bad-1", []byte(`{"firstName":"Ada"}`))
	w.publishAsync(w.subj.Create(), "c-bad-2", []byte(`{"firstName":"Ada"}`))
	w.waitPublished()
	waiting(3)

	dlqOK(t, vars, "dlq", "discard", "c-bad-1", "--reason", "test")
	waiting(2)
	dlqOK(t, vars, "dlq", "replay", "c-forced") // applied this time
	waiting(1)
}
