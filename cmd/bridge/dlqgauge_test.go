package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/eventually"
)

// scrape returns the value of sample in the bridge's /metrics at addr, or
// -1 when it is not there.
func scrape(t *testing.T, addr, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(body)) {
		if rest, ok := strings.CutPrefix(line, sample+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return -1
}

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
			got = scrape(t, addr, "crm_bridge_dead_letters_waiting")
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
