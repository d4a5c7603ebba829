package poller

import (
	"context"
	"encoding/json"
	"iter"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/syncbuf"
)

// badAtCRM is a CRM whose export shows one customer with updatedAt set to
// whatever at() returns.
type badAtCRM struct {
	CRM
	t  *testing.T
	id string
	at func() string
}

func (b badAtCRM) Export(ctx context.Context, since time.Time) iter.Seq2[crm.ExportPage, error] {
	return func(yield func(crm.ExportPage, error) bool) {
		for page, err := range b.CRM.Export(ctx, since) {
			for i := range page.Items {
				if c := &page.Items[i]; c.ID == b.id {
					c.UpdatedAt = b.at()
					m := object(b.t, c.Raw)
					m["updatedAt"] = c.UpdatedAt
					c.Raw, _ = json.Marshal(m)
				}
			}
			if !yield(page, err) {
				return
			}
		}
	}
}

// TestUpdatedAtNotRFC3339 is issue 11's part 6 item: a customer whose
// updatedAt is not RFC 3339 is logged once per value with its id, not on
// every poll, and counted.
func TestUpdatedAtNotRFC3339(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	r.sim.Seed(5)
	id := r.sim.Customers()[2].ID
	var at atomic.Pointer[string]
	at.Store(ptr("2026-12-02 05:00:00"))
	var logs syncbuf.Buffer
	cfg := r.cfg
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	in := r.start(cfg, badAtCRM{CRM: r.client(), t: t, id: id, at: func() string { return *at.Load() }}, nil)
	in.polls(t, 4)
	warnings := func() int {
		return strings.Count(logs.String(), `"msg":"customer's updatedAt is missing or not RFC 3339; it cannot move the poller's cursor","customer_id":"`+id+`"`)
	}
	if n := warnings(); n != 1 {
		t.Fatalf("after 4 polls: got %d warnings, want 1:\n%s", n, logs.String())
	}
	if n := counterValue(t, in.p.metrics.badUpdatedAt); n < 4 {
		t.Errorf("counted: got %v, want at least 4 (one per poll)", n)
	}
	at.Store(ptr("yesterday"))
	in.polls(t, 3)
	if n := warnings(); n != 2 {
		t.Errorf("after a second value: got %d warnings, want 2", n)
	}
	if !strings.Contains(logs.String(), `"updated_at":"yesterday"`) {
		t.Errorf("the warning does not name the value:\n%s", logs.String())
	}
}
