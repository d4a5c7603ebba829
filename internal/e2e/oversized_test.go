package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/poller"
	"github.com/gormic/crm-bridge/internal/streams"
)

// A customer's internalNote grows past the NATS server's max_payload (64
// KiB here), out of band, and 150 other customers change right after it:
// every one of their changes is published, the big customer's event is
// truncated (no before and after, its fields kept), its next change is
// published too, and the bridge stays up and ready.
func TestOversizedRecord(t *testing.T) {
	t.Parallel()
	w := newWorld(t, setup{nodes: 1, other: 151, maxPayload: 64 << 10})
	b := w.startBridge()
	big, rest := w.other[0], w.other[1:]
	update := func(id string, edit func(c *crm.Customer)) {
		t.Helper()
		if _, err := w.sim.UpdateCustomer(id, edit); err != nil {
			t.Fatal(err)
		}
	}
	raw := make([]byte, 75<<10) // 100 KiB of base64
	for i := range raw {
		raw[i] = byte(w.rng.Uint32())
	}
	note := base64.StdEncoding.EncodeToString(raw)
	update(big, func(c *crm.Customer) { c.InternalNote = &note })
	for _, id := range rest {
		update(id, func(c *crm.Customer) { c.LastName = &id })
	}

	changed := func(id string) []poller.Event {
		t.Helper()
		var out []poller.Event
		for _, m := range natstest.Messages(t, w.js, streams.Events, w.subj.Changed(id)) {
			var e poller.Event
			if err := json.Unmarshal(m.Data(), &e); err != nil {
				t.Fatalf("event %s: %v", m.Data(), err)
			}
			out = append(out, e)
		}
		return out
	}
	eventually.True(t, 2*time.Minute, "an event for each of the 150 customers changed after the big one", func() bool {
		per := natstest.Subjects(w.js, streams.Events, w.subj.AllChanged())
		for _, id := range rest {
			if per[w.subj.Changed(id)] == 0 {
				return false
			}
		}
		return per[w.subj.Changed(big)] > 0
	})
	update(big, func(c *crm.Customer) { c.FirstName = "Next" })
	eventually.True(t, time.Minute, "the big customer's next event", func() bool { return len(changed(big)) == 2 })

	for i, e := range changed(big) {
		want := []string{"internalNote", "firstName"}[i]
		if !e.Truncated || e.Before != nil || e.After != nil || fmt.Sprint(e.Fields) != "["+want+"]" {
			t.Errorf("big customer's event %d: got truncated %v, fields %v, before %d bytes, after %d bytes; want truncated, [%s], none",
				i, e.Truncated, e.Fields, len(e.Before), len(e.After), want)
		}
	}
	if got := b.logValue("event too large for one NATS message; published without before and after", "customer_id"); got != big {
		t.Errorf("warning about a truncated event: got customer %q, want %s", got, big)
	}
	if b.Exited() {
		t.Fatalf("the bridge exited: %v", b.Err())
	}
	if code := b.readyz(); code != http.StatusOK {
		t.Errorf("/readyz: got %d, want 200", code)
	}
	w.check()
}
