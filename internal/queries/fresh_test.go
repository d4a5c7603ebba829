package queries

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/model"
)

// A fresh get reads the CRM (the simulator over HTTP), answers its record
// with source "crm", maps its errors, and leaves the model alone.
func TestFreshGetReadsTheCRM(t *testing.T) {
	sim, err := crmsim.New(crmsim.Options{RandSeed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	client, err := crm.New(crm.Config{BaseURL: sim.URL(), APIKey: "k", OrgID: "o", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	c, err := sim.CreateCustomer(crm.CreateParams{FirstName: "Ada", Phone: "5550100"})
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, embedded.Options{})
	stale := record(c.ID, "Old", "5550100", "")
	w.put(t, c.ID, stale)
	w.fill(t, time.Now())
	w.serve(t, Config{CRM: client})

	a := w.ask(t, "crm.customer.get."+c.ID, `{"fresh":true}`).ok(t)
	var got crm.Customer
	if err := json.Unmarshal(a.body["customer"], &got); err != nil || got.FirstName != "Ada" || str(t, a.body["source"]) != "crm" {
		t.Errorf("fresh get: got %s, want the CRM's record (Ada) from source crm", a.raw)
	}
	e, err := w.customers.Get(ctx(t), model.Key(c.ID))
	if err != nil || string(e.Value()) != string(stale) {
		t.Errorf("model after a fresh get: got %s, %v, want it unchanged", e.Value(), err)
	}
	if a := w.ask(t, "crm.customer.get."+c.ID, "").ok(t); str(t, a.body["source"]) != "model" {
		t.Errorf("get without fresh: got %s, want source model", a.raw)
	}

	tests := []struct {
		name, id, status, code string
		force                  string
	}{
		{name: "missing in the CRM", id: "cus_nobody", status: "404", code: "NotFound"},
		{name: "functional error", id: c.ID, force: "VALIDATION", status: "503", code: "CRM_VALIDATION"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.force != "" {
				sim.ForceError(crmsim.OpGet, tt.force, 1)
			}
			a := w.ask(t, "crm.customer.get."+tt.id, `{"fresh":true}`)
			if a.code != tt.status || a.errCode != tt.code {
				t.Errorf("got %q %q (%s), want %s %s", a.code, a.errCode, a.raw, tt.status, tt.code)
			}
		})
	}
	sim.Close()
	if a := w.ask(t, "crm.customer.get."+c.ID, `{"fresh":true}`); a.code != "503" || a.errCode != "CRM_UNAVAILABLE" {
		t.Errorf("CRM down: got %q %q (%s), want 503 CRM_UNAVAILABLE", a.code, a.errCode, a.raw)
	}
}
