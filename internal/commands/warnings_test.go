package commands

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
)

// A result carries the warnings of the CRM's last answer for its command,
// verbatim, and has no warnings field when that answer had none.
func TestResultCarriesTheCRMsWarnings(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	c, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "Ada", Phone: "5550101"})
	if err != nil {
		t.Fatal(err)
	}
	r.startProcessor(r.cfg)
	r.publish(r.subj.Update(c.ID), "quiet", []byte(`{"email":"a@example.com"}`))
	r.waitResults(1, 30*time.Second)
	if err := r.sim.SetFaults(crmsim.Faults{Warnings: []crmsim.Warning{{Code: "DEPRECATED", Message: "use v2"}, {Code: "W2"}}}); err != nil {
		t.Fatal(err)
	}
	r.publish(r.subj.Update(c.ID), "warned", []byte(`{"email":"b@example.com"}`))
	r.publish(r.subj.Update(c.ID), "warned-nochange", []byte(`{"email":"b@example.com"}`))
	r.waitResults(3, 30*time.Second)

	raw := map[string]map[string]json.RawMessage{}
	for _, m := range natstest.Messages(t, r.js, streams.Events, r.subj.Result()) {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(m.Data(), &fields); err != nil {
			t.Fatal(err)
		}
		var id string
		_ = json.Unmarshal(fields["commandId"], &id)
		raw[id] = fields
	}
	tests := []struct {
		name, id string
		want     string // "": no warnings field
	}{
		{name: "answer without warnings", id: "quiet", want: ""},
		{name: "answer with warnings", id: "warned", want: `[{"code":"DEPRECATED","message":"use v2"},{"code":"W2"}]`},
		// NoChanges is an error answer: the simulator adds warnings to
		// successes only, so this one has none.
		{name: "error answer without warnings", id: "warned-nochange", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := raw[tt.id]["warnings"]
			switch {
			case tt.want == "" && ok:
				t.Errorf("got warnings %s, want no warnings field", got)
			case tt.want != "" && string(got) != tt.want:
				t.Errorf("got warnings %s, want %s", got, tt.want)
			}
		})
	}
}
