package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/poller"
	"github.com/gormic/crm-bridge/internal/streams"
)

// deleteNotes returns how many notes of applied deletes wait for the
// poller.
func (w *world) deleteNotes() int {
	w.t.Helper()
	kv, err := w.js.KeyValue(context.Background(), poller.DeletesBucket)
	if err != nil {
		return -1
	}
	keys, err := kv.ListKeys(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	n := 0
	for range keys.Keys() {
		n++
	}
	return n
}

// deletedEvents returns the change kinds of the events of customer id.
func (w *world) changesOf(id string) []string {
	w.t.Helper()
	var out []string
	for _, m := range natstest.Messages(w.t, w.js, streams.Events, w.subj.Changed(id)) {
		var e struct {
			Change string `json:"change"`
		}
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, e.Change)
	}
	return out
}

// applied waits until command id has its result, and checks it applied.
func (w *world) applied(id string) {
	w.t.Helper()
	var r commands.Result
	eventually.True(w.t, 30*time.Second, "the result of "+id, func() bool {
		var ok bool
		r, ok = w.results()[id]
		return ok
	})
	if r.Status != commands.StatusApplied {
		w.t.Fatalf("command %s: got %s, want applied", id, r.Status)
	}
}

// Issue 12, part 6: with two bridge processes, a delete applied through a
// command is published as one deleted event by the next poll (the
// reconcile interval is an hour); the same delete applied again (the
// customer is gone already) and a complete export (bridge resync, which
// prints its progress and exits 0) publish no second one.
func TestDeleteCommandDeletedAtOnce(t *testing.T) {
	w := newWorld(t)
	ids := w.seed(6)
	w.startPollers(time.Second)
	w.waitConsumers()

	gone := ids[2]
	w.publishAsync(w.subj.Delete(gone), "delete-1", nil)
	w.waitPublished()
	w.applied("delete-1")
	eventually.True(t, 30*time.Second, "the deleted event", func() bool { return len(w.changesOf(gone)) > 0 })

	w.publishAsync(w.subj.Delete(gone), "delete-2", nil)
	w.waitPublished()
	w.applied("delete-2")
	eventually.True(t, 30*time.Second, "the notes cleared", func() bool { return w.deleteNotes() == 0 })

	out, errOut, err := cli(t, map[string]string{"BRIDGE_NATS_URL": w.srv.ClientURL()}, "", "resync")
	if err != nil {
		t.Fatalf("bridge resync: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if !strings.Contains(out, "resync started ") || !strings.Contains(out, "done: 1 pages, 5 records, 0 events, 0 deletes, in ") {
		t.Errorf("bridge resync printed\n%s\nwant its start and done: 1 pages, 5 records, 0 events, 0 deletes", out)
	}

	if got := w.changesOf(gone); len(got) != 1 || got[0] != "deleted" {
		t.Errorf("events of %s: got %v, want [deleted]", gone, got)
	}
	if n := w.eventCount(); n != 1 {
		t.Errorf("change events: got %d, want 1", n)
	}
}
