package poller

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
)

func ptr[T any](v T) *T { return &v }

// TestOutOfBandChanges is issue 4's test 1: creates, updates of two fields,
// an archive, deletes and touches made in the CRM itself give exactly the
// right events, with the right fields, before and after, and touches give
// none.
func TestOutOfBandChanges(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 3})
	r.sim.Seed(8)
	in := r.startReconciling(200 * time.Millisecond)
	if n := r.count(); n != 0 {
		t.Fatalf("a first start published %d events, want none", n)
	}

	seeded := r.sim.Customers()
	before := map[string]crm.Customer{}
	for _, c := range seeded {
		before[c.ID] = c
	}
	var created []string
	for i, phone := range []string{"+44 20 7946 0001", "+44 20 7946 0002"} {
		c, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "New" + string(rune('A'+i)), Phone: phone})
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, c.ID)
	}
	updated := []string{seeded[0].ID, seeded[1].ID}
	for _, id := range updated {
		if _, err := r.sim.UpdateCustomer(id, func(c *crm.Customer) {
			c.FirstName += "-x"
			c.InternalNote = ptr("changed")
		}); err != nil {
			t.Fatal(err)
		}
	}
	archived := seeded[2].ID
	if _, err := r.sim.Archive(archived); err != nil {
		t.Fatal(err)
	}
	deleted := seeded[3].ID
	if err := r.sim.Delete(deleted); err != nil {
		t.Fatal(err)
	}
	for _, c := range seeded[4:] {
		if _, err := r.sim.Touch(c.ID); err != nil {
			t.Fatal(err)
		}
	}

	const want = 6 // 2 created, 2 updated, 1 archived, 1 deleted
	r.waitEvents(want)
	in.polls(t, 6) // at least one more reconcile: nothing further
	events := r.events()
	if len(events) != want {
		for _, e := range events {
			t.Logf("%s %s %v", e.Change, e.CustomerID, e.Fields)
		}
		t.Fatalf("got %d events, want %d", len(events), want)
	}
	by := map[string]stored{}
	for _, e := range events {
		if _, dup := by[e.CustomerID]; dup {
			t.Errorf("two events for %s", e.CustomerID)
		}
		by[e.CustomerID] = e
		if got := e.header.Get(HeaderSource); got != "gormic-crm/"+testOrg {
			t.Errorf("ce-source %q", got)
		}
		if e.header.Get(HeaderID) != e.ID() || e.header.Get("Nats-Msg-Id") != e.ID() {
			t.Errorf("%s: ce-id %q, Nats-Msg-Id %q, want %q", e.CustomerID, e.header.Get(HeaderID), e.header.Get("Nats-Msg-Id"), e.ID())
		}
	}
	for _, id := range created {
		e := by[id]
		now, _ := r.sim.Customer(id)
		if e.Change != Created || !isNull(e.Before) || len(e.Fields) != 0 || object(t, e.After)["firstName"] != now.FirstName || e.UpdatedAt != now.UpdatedAt {
			t.Errorf("created %s: got %s fields %v before %s after %s updatedAt %s", id, e.Change, e.Fields, e.Before, e.After, e.UpdatedAt)
		}
	}
	for _, id := range updated {
		e := by[id]
		now, _ := r.sim.Customer(id)
		b, a := object(t, e.Before), object(t, e.After)
		if e.Change != Updated || !slices.Equal(e.Fields, []string{"firstName", "internalNote"}) ||
			b["firstName"] != before[id].FirstName || a["firstName"] != now.FirstName || a["internalNote"] != "changed" ||
			b["updatedAt"] != before[id].UpdatedAt || e.UpdatedAt != now.UpdatedAt {
			t.Errorf("updated %s: got %s fields %v before %v after %v updatedAt %s", id, e.Change, e.Fields, b, a, e.UpdatedAt)
		}
	}
	if e := by[archived]; e.Change != Updated || !slices.Contains(e.Fields, "archivedAt") || object(t, e.After)["archivedAt"] == nil {
		t.Errorf("archived %s: got %s fields %v", archived, e.Change, e.Fields)
	}
	if e := by[deleted]; e.Change != Deleted || !isNull(e.After) || object(t, e.Before)["id"] != deleted || e.UpdatedAt != before[deleted].UpdatedAt || len(e.Fields) != 0 {
		t.Errorf("deleted %s: got %s fields %v before %s after %s", deleted, e.Change, e.Fields, e.Before, e.After)
	}
	for _, c := range seeded[4:] {
		if e, ok := by[c.ID]; ok {
			t.Errorf("touched %s: got %s event, want none", c.ID, e.Change)
		}
	}
}

// TestRestart is issue 4's test 4: a poller that starts again on the same
// state publishes nothing for customers that did not change, and a change
// made while no poller ran exactly once, from the record last seen.
func TestRestart(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 4})
	r.sim.Seed(20)
	cfg := r.cfg
	cfg.ReconcileInterval = 300 * time.Millisecond
	first := r.start(cfg, nil, nil)
	first.polls(t, 1)
	customers := r.sim.Customers()
	early, late := customers[0].ID, customers[1].ID
	if _, err := r.sim.UpdateCustomer(early, func(c *crm.Customer) { c.LastName = ptr("Early") }); err != nil {
		t.Fatal(err)
	}
	r.waitEvents(1)
	first.stop(t)

	seen, _ := r.sim.Customer(late)
	if _, err := r.sim.UpdateCustomer(late, func(c *crm.Customer) { c.LastName = ptr("WhileDown") }); err != nil {
		t.Fatal(err)
	}
	if _, err := r.sim.Touch(customers[2].ID); err != nil {
		t.Fatal(err)
	}

	second := r.start(cfg, nil, nil)
	r.waitEvents(2)
	second.polls(t, 8) // a reconcile among them
	events := r.events()
	if len(events) != 2 {
		t.Fatalf("got %d events, want 2 (one before, one for the change while down)", len(events))
	}
	e := events[1]
	if e.CustomerID != late || e.Change != Updated || !slices.Equal(e.Fields, []string{"lastName"}) ||
		object(t, e.Before)["updatedAt"] != seen.UpdatedAt || object(t, e.After)["lastName"] != "WhileDown" {
		t.Errorf("change while down: got %s %s fields %v before %s after %s", e.Change, e.CustomerID, e.Fields, e.Before, e.After)
	}
}

// TestCrashBetweenPublishAndSave is issue 4's test 5: a poller that stops
// dead after an event is acknowledged and before the state that records it
// is saved loses nothing and doubles nothing: the next one finds the event
// in the stream and goes on from it, also when the customer changed again
// in between (so that the duplicate window alone could not help). Both
// pollers trace their polls, so the second one's publish of the same
// event carries another traceparent than the stored one: the event is
// still recognised (ce-id, Nats-Msg-Id), never published twice.
func TestCrashBetweenPublishAndSave(t *testing.T) {
	for _, again := range []bool{false, true} {
		name := "same change"
		if again {
			name = "changed again"
		}
		t.Run(name, func(t *testing.T) {
			r := newRig(t, crmsim.Options{PageSize: 5})
			r.sim.Seed(10)
			tp := sdktrace.NewTracerProvider() // records, exports nothing
			t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			r.cfg.TracerProvider = tp
			first, crashed := r.startCrashing(t, r.cfg)
			first.polls(t, 1)
			id := r.sim.Customers()[3].ID
			if _, err := r.sim.UpdateCustomer(id, func(c *crm.Customer) { c.FirstName = "Crash" }); err != nil {
				t.Fatal(err)
			}
			ev := <-crashed
			if ev.CustomerID != id {
				t.Fatalf("crashed on %s, want %s", ev.CustomerID, id)
			}
			if again {
				if _, err := r.sim.UpdateCustomer(id, func(c *crm.Customer) { c.FirstName = "Again" }); err != nil {
					t.Fatal(err)
				}
			}
			// The process dies: its connection goes, its lease expires, and
			// its pass never gets further (it blocks until the test ends).
			first.nc.Close()
			second := r.start(r.cfg, nil, nil)
			want := 1
			if again {
				want = 2
			}
			r.waitEvents(want)
			second.polls(t, 5)
			events := r.events()
			if len(events) != want {
				t.Fatalf("got %d events, want %d", len(events), want)
			}
			if events[0].ID() != ev.ID() || object(t, events[0].After)["firstName"] != "Crash" {
				t.Errorf("first event: got %s, want the one published before the crash", events[0].After)
			}
			if again {
				if !sameRecord(events[1].Before, events[0].After) || object(t, events[1].After)["firstName"] != "Again" {
					t.Errorf("second event: before %s after %s, want it to follow the first", events[1].Before, events[1].After)
				}
			}
		})
	}
}

// startCrashing starts a poller that "crashes" right after publishing its
// first event, before saving the record: it sends the event on crashed
// and its pass never goes further (it blocks until the test ends).
func (r *rig) startCrashing(t *testing.T, cfg Config) (first *instance, crashed <-chan Event) {
	t.Helper()
	events := make(chan Event, 1)
	gone := make(chan struct{})
	first = r.start(cfg, nil, func(p *Poller) {
		p.afterEvent = func(ev Event) error {
			select {
			case events <- ev:
			default:
			}
			<-gone
			return errors.New("crashed")
		}
	})
	t.Cleanup(func() { close(gone) })
	return first, events
}

// A customer created, its created event published by a poller that dies
// before saving it, and deleted before another poller runs: the next
// poller brings its state up to the event (catchUp) and publishes its
// deleted event; without that it would not know the customer at all.
func TestCrashBetweenPublishAndSaveThenDeleted(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 5})
	r.sim.Seed(10)
	cfg := r.cfg
	cfg.ReconcileInterval = time.Nanosecond // every pass a complete export
	first, crashed := r.startCrashing(t, cfg)
	first.polls(t, 1)
	c, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "Brief", Phone: "5550001111"})
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-crashed; ev.CustomerID != c.ID || ev.Change != Created {
		t.Fatalf("crashed on %s %s, want created %s", ev.Change, ev.CustomerID, c.ID)
	}
	first.nc.Close()
	if err := r.sim.Delete(c.ID); err != nil {
		t.Fatal(err)
	}
	second := r.start(cfg, nil, nil)
	r.waitEvents(2)
	second.polls(t, 3)
	events := r.events()
	if len(events) != 2 || events[1].Change != Deleted || events[1].CustomerID != c.ID {
		t.Fatalf("got %d events (%v), want created then deleted of %s", len(events), events, c.ID)
	}
	if !sameRecord(events[1].Before, events[0].After) {
		t.Errorf("deleted event's before %s, want the created event's after %s", events[1].Before, events[0].After)
	}
}

// The same within one poller: a pass publishes a new customer's created
// event and then fails to save it (NATS went away, say); the customer is
// deleted before the pass is retried. The retry catches up first, so the
// deleted event comes.
func TestFailedSaveThenDeleted(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 5})
	r.sim.Seed(10)
	cfg := r.cfg
	cfg.ReconcileInterval = time.Nanosecond // every pass a complete export
	var once sync.Once
	p := r.start(cfg, nil, func(p *Poller) {
		p.afterEvent = func(ev Event) error {
			var err error
			once.Do(func() {
				if err = r.sim.Delete(ev.CustomerID); err == nil {
					err = errors.New("save failed")
				}
			})
			return err
		}
	})
	p.polls(t, 1)
	c, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "Brief", Phone: "5550001111"})
	if err != nil {
		t.Fatal(err)
	}
	r.waitEvents(2)
	p.polls(t, 3)
	events := r.events()
	if len(events) != 2 || events[0].Change != Created || events[1].Change != Deleted || events[1].CustomerID != c.ID {
		t.Fatalf("got %d events (%v), want created then deleted of %s", len(events), events, c.ID)
	}
}

// TestInitialEvents: with InitialEvents a first start publishes created for
// every customer, once, also when the poller starts again.
func TestInitialEvents(t *testing.T) {
	r := newRig(t, crmsim.Options{PageSize: 4})
	r.sim.Seed(10)
	cfg := r.cfg
	cfg.InitialEvents = true
	first := r.start(cfg, nil, nil)
	first.polls(t, 2)
	first.stop(t)
	second := r.start(cfg, nil, nil)
	second.polls(t, 2)
	events := r.events()
	if len(events) != 10 {
		t.Fatalf("got %d events, want 10", len(events))
	}
	for _, e := range events {
		now, _ := r.sim.Customer(e.CustomerID)
		if e.Change != Created || !isNull(e.Before) || object(t, e.After)["updatedAt"] != now.UpdatedAt {
			t.Errorf("%s: got %s, after %s", e.CustomerID, e.Change, e.After)
		}
	}
}

// TestReady: a standby and a healthy poller are ready; one whose polls
// fail says so, with the lag, once it is three intervals (at least 30 s)
// behind.
func TestReady(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	p, err := New(nil, nil, Config{Prefix: "crm", OrgID: "o", Interval: 10 * time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Ready(); err == nil {
		t.Error("ready before Start")
	}
	p.status = Status{Started: true}
	if err := p.Ready(); err != nil {
		t.Errorf("standby: %v", err)
	}
	failing := errors.New("crm: unavailable")
	p.status = Status{Started: true, Active: true, ActiveSince: now.Add(-time.Hour), LastComplete: now.Add(-20 * time.Second), Err: failing}
	if err := p.Ready(); err != nil {
		t.Errorf("20 s behind: %v", err)
	}
	p.status.LastComplete = now.Add(-45 * time.Second)
	if err := p.Ready(); err == nil || !errors.Is(err, failing) || err.Error() != "events 45s behind the CRM: crm: unavailable" {
		t.Errorf("45 s behind: got %v", err)
	}
	p.status = Status{Started: true, Err: failing}
	if err := p.Ready(); err == nil || !errors.Is(err, failing) {
		t.Errorf("standby without the lease bucket: got %v", err)
	}
}
