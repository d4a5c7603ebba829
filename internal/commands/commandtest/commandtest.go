// Package commandtest reads back what the command processor published,
// for the tests that run it in bridge processes (cmd/bridge,
// internal/e2e).
package commandtest

import (
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/schemas"
)

// Results returns every result stored on subj's result subject, by
// command id, each checked against result.schema.json; a result that is
// invalid, or a second result of a command, fails t.
func Results(t testing.TB, js jetstream.JetStream, subj streams.Subjects) map[string]commands.Result {
	t.Helper()
	out := map[string]commands.Result{}
	for _, m := range natstest.Messages(t, js, streams.Events, subj.Result()) {
		if err := schemas.Validate(schemas.Result, m.Data()); err != nil {
			t.Errorf("result %s: got %v, want it valid", m.Data(), err)
		}
		var r commands.Result
		if err := json.Unmarshal(m.Data(), &r); err != nil {
			t.Fatalf("result %s: %v", m.Data(), err)
		}
		if _, dup := out[r.CommandID]; dup {
			t.Errorf("command %s has two results", r.CommandID)
		}
		out[r.CommandID] = r
	}
	return out
}
