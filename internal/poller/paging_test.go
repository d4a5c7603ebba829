package poller

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"maps"
	"reflect"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
)

// The tests of this file (issue 4's tests 2, 3 and 7) and of model_test.go
// drive the poller one pass at a time through pgGate, and check what came
// out with pgChains.

// pgClock is a clock that stands still until the test moves it: as the
// simulator's Options.Now it decides which changes share a second; as a
// poller's Config.Now it decides which passes are due to reconcile.
type pgClock struct{ ns atomic.Int64 }

func newPgClock(t time.Time) *pgClock {
	c := &pgClock{}
	c.ns.Store(t.UnixNano())
	return c
}

func (c *pgClock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *pgClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// pgPass is what the test does during one pass of the poller.
type pgPass struct {
	// after, when set, runs after page n (from 1) of the export was handed
	// to the poller and before the next page is asked for: what it changes
	// in the CRM shows on the pages that follow, as a change made while
	// the poller pages would.
	after func(n int, page crm.ExportPage)
	// fail, when set, is asked before page n is handed over; an error
	// fails the export there instead, as a broken connection would.
	fail func(n int) error
}

// pgGate is a CRM whose export, at the start of every pass, waits until
// the test lets that pass go: between two passes the test changes the CRM
// at leisure, and each pass runs the test's pgPass. It stands in for a
// synchronous "run one pass now" on Poller. It also records the ids the
// poller gets one by one (the reconcile's checks).
type pgGate struct {
	CRM
	arrive  chan time.Time // a pass starts, with its updatedSince (zero: complete export)
	proceed chan pgPass    // the test lets it go

	// Test side only.
	held  bool
	since time.Time

	mu   sync.Mutex
	gets []string
}

func newPgGate(c CRM) *pgGate {
	return &pgGate{CRM: c, arrive: make(chan time.Time), proceed: make(chan pgPass)}
}

func (g *pgGate) Export(ctx context.Context, since time.Time) iter.Seq2[crm.ExportPage, error] {
	return func(yield func(crm.ExportPage, error) bool) {
		var p pgPass
		select {
		case g.arrive <- since:
		case <-ctx.Done():
			yield(crm.ExportPage{}, ctx.Err())
			return
		}
		select {
		case p = <-g.proceed:
		case <-ctx.Done():
			yield(crm.ExportPage{}, ctx.Err())
			return
		}
		n := 0
		for page, err := range g.CRM.Export(ctx, since) {
			n++
			if err == nil && p.fail != nil {
				if ferr := p.fail(n); ferr != nil {
					yield(crm.ExportPage{}, ferr)
					return
				}
			}
			if !yield(page, err) || err != nil {
				return
			}
			if p.after != nil {
				p.after(n, page)
			}
		}
	}
}

func (g *pgGate) Get(ctx context.Context, id string) (crm.Customer, error) {
	g.mu.Lock()
	g.gets = append(g.gets, id)
	g.mu.Unlock()
	return g.CRM.Get(ctx, id)
}

// takeGets returns the ids got since the last call, sorted.
func (g *pgGate) takeGets() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := g.gets
	g.gets = nil
	slices.Sort(ids)
	return ids
}

// pgReporter is what the checks need of *testing.T and *rapid.T.
type pgReporter interface {
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// hold waits until the poller starts a pass and keeps it waiting there; it
// returns the pass's updatedSince (zero: a complete export). Holding a
// pass already held returns at once.
func (g *pgGate) hold(t pgReporter) time.Time {
	if g.held {
		return g.since
	}
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case g.since = <-g.arrive:
	case <-timer.C:
		t.Fatalf("after 30s: the poller did not start a pass")
	}
	g.held = true
	return g.since
}

// pass lets the held pass (holding one first) run with p, and returns its
// updatedSince when it has ended: when the poller starts the next, which
// is then held. The poller's Status then tells whether it completed.
func (g *pgGate) pass(t pgReporter, p pgPass) time.Time {
	since := g.hold(t)
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case g.proceed <- p:
	case <-timer.C:
		t.Fatalf("after 30s: the held pass did not go on")
	}
	g.held = false
	g.hold(t)
	return since
}

// forget is for a poller that was stopped while held: the next pass held
// will be its successor's.
func (g *pgGate) forget() { g.held = false }

// pgRecords returns every customer the simulator holds, as get returns it.
func pgRecords(sim *crmsim.Simulator) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage)
	for _, c := range sim.Customers() {
		out[c.ID] = c.Raw
	}
	return out
}

// pgExportOrder returns the ids of the customers in export order.
func pgExportOrder(sim *crmsim.Simulator) []string {
	cs := sim.Customers()
	sort.Slice(cs, func(i, j int) bool {
		ti, _ := time.Parse(time.RFC3339Nano, cs[i].UpdatedAt)
		tj, _ := time.Parse(time.RFC3339Nano, cs[j].UpdatedAt)
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return cs[i].ID < cs[j].ID
	})
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// pgSame reports whether two records (nil or null: none) are the same
// JSON value.
func pgSame(t pgReporter, a, b json.RawMessage) bool {
	if isNull(a) || isNull(b) {
		return isNull(a) && isNull(b)
	}
	return reflect.DeepEqual(object(t, a), object(t, b))
}

// pgSameFields reports whether two records (nil or null: none) are the
// same but for updatedAt, updatedBy and updatedVia: what a touch changes.
func pgSameFields(t pgReporter, a, b json.RawMessage) bool {
	if isNull(a) || isNull(b) {
		return isNull(a) && isNull(b)
	}
	fields, err := Diff(a, b)
	if err != nil {
		t.Fatalf("diff: %v", err)
	}
	return len(fields) == 0
}

// pgChains checks every event, and the events of each customer together,
// and returns the events per customer in stream order.
//
// Each event: ce-id, Nats-Msg-Id and ID() agree and no ce-id comes twice;
// ce-subject is the customer; created has no before and no fields, deleted
// no after and no fields, updated both records and fields = Diff(before,
// after), never empty (a touch alone makes no event); updatedAt is the
// after's, or the before's for deleted.
//
// Each customer, of those in first or last or with events: its events form
// a chain from first[id] (its record as the poller knew it before them;
// absent: none) to last[id] (its record now; absent: gone), each event's
// before being the previous event's after. Records compare exactly when
// exact; otherwise, for a test that touches customers, but for updatedAt,
// updatedBy and updatedVia, since the poller records a touched record
// without an event and the next event's before is that record.
func pgChains(t pgReporter, events []stored, first, last map[string]json.RawMessage, exact bool) map[string][]stored {
	same := pgSame
	if !exact {
		same = pgSameFields
	}
	per := make(map[string][]stored)
	ids := make(map[string]bool)
	for _, e := range events {
		id := e.header.Get(HeaderID)
		if id != e.ID() || e.header.Get("Nats-Msg-Id") != id {
			t.Errorf("event %d of %s: ce-id %q, Nats-Msg-Id %q, want %q", e.seq, e.CustomerID, id, e.header.Get("Nats-Msg-Id"), e.ID())
		}
		if ids[id] {
			t.Errorf("event %d of %s: ce-id %s published twice", e.seq, e.CustomerID, id)
		}
		ids[id] = true
		if got := e.header.Get(HeaderSubject); got != e.CustomerID {
			t.Errorf("event %d of %s: ce-subject %q", e.seq, e.CustomerID, got)
		}
		var at json.RawMessage = e.After
		switch e.Change {
		case Created:
			if !isNull(e.Before) || isNull(e.After) || len(e.Fields) != 0 {
				t.Errorf("event %d of %s: created with before %s, after %s, fields %v", e.seq, e.CustomerID, e.Before, e.After, e.Fields)
			}
		case Deleted:
			if isNull(e.Before) || !isNull(e.After) || len(e.Fields) != 0 {
				t.Errorf("event %d of %s: deleted with before %s, after %s, fields %v", e.seq, e.CustomerID, e.Before, e.After, e.Fields)
			}
			at = e.Before
		case Updated:
			if isNull(e.Before) || isNull(e.After) {
				t.Errorf("event %d of %s: updated with before %s, after %s", e.seq, e.CustomerID, e.Before, e.After)
				break
			}
			fields, err := Diff(e.Before, e.After)
			if err != nil {
				t.Fatalf("event %d of %s: %v", e.seq, e.CustomerID, err)
			}
			if len(e.Fields) == 0 || !slices.Equal(e.Fields, fields) {
				t.Errorf("event %d of %s: updated, fields %v, want %v (non-empty)\nbefore %s\nafter  %s", e.seq, e.CustomerID, e.Fields, fields, e.Before, e.After)
			}
		default:
			t.Errorf("event %d of %s: change %q", e.seq, e.CustomerID, e.Change)
		}
		if rec := object(t, at); rec != nil && rec["updatedAt"] != e.UpdatedAt {
			t.Errorf("event %d of %s: updatedAt %q, record's %v", e.seq, e.CustomerID, e.UpdatedAt, rec["updatedAt"])
		}
		per[e.CustomerID] = append(per[e.CustomerID], e)
	}
	all := make(map[string]bool)
	for _, m := range []map[string]json.RawMessage{first, last} {
		for id := range m {
			all[id] = true
		}
	}
	for id := range per {
		all[id] = true
	}
	for id := range all {
		prev := first[id]
		for i, e := range per[id] {
			if !same(t, e.Before, prev) {
				t.Errorf("%s: event %d (%d of %d, %s): before is not the record as last known\nbefore %s\nknown  %s", id, e.seq, i+1, len(per[id]), e.Change, e.Before, prev)
			}
			prev = e.After
		}
		if !same(t, prev, last[id]) {
			t.Errorf("%s: after %d events the record as last published is not the CRM's\npublished %s\nCRM       %s", id, len(per[id]), prev, last[id])
		}
	}
	return per
}

// pgUpdate updates a customer in the simulator; edit must change it.
func pgUpdate(t pgReporter, sim *crmsim.Simulator, id string, edit func(c *crm.Customer)) crm.Customer {
	c, err := sim.UpdateCustomer(id, edit)
	if err != nil {
		t.Errorf("update %s: %v", id, err)
	}
	return c
}

// TestSameSecondChangesWhilePaging is issue 4's test 2: 60 customers
// changed within one second share their updatedAt, so the export (7 a
// page) orders them by id alone; while the poller pages through them some
// change again, in that second or the next, some already read and some
// not yet. Every change the poller could see is published once: per
// customer the events chain from the record before to the record now, no
// ce-id repeats, and each customer has exactly the events that its story
// gives. With keyset and with offset paging (where a record moving to the
// end makes the poller skip one).
func TestSameSecondChangesWhilePaging(t *testing.T) {
	for _, paging := range []crmsim.Paging{crmsim.PagingKeyset, crmsim.PagingOffset} {
		t.Run(paging.String(), func(t *testing.T) { testSameSecondChangesWhilePaging(t, paging) })
	}
}

func testSameSecondChangesWhilePaging(t *testing.T, paging crmsim.Paging) {
	clk := newPgClock(time.Now().UTC().Truncate(time.Second))
	r := newRig(t, crmsim.Options{PageSize: 7, Paging: paging, Now: clk.Now, RandSeed: 2})
	r.sim.Seed(60)
	g := newPgGate(r.client())
	in := r.start(r.cfg, g, nil)
	g.pass(t, pgPass{}) // the first start records the 60 silently
	if s := in.p.Status(); s.Polls != 1 || s.Err != nil {
		t.Fatalf("first pass: polls %d, err %v", s.Polls, s.Err)
	}
	if n := r.count(); n != 0 {
		t.Fatalf("the first start published %d events, want none", n)
	}
	first := pgRecords(r.sim)

	// All 60 change within one second.
	clk.Add(10 * time.Second)
	stamp := clk.Now().UTC().Format(time.RFC3339)
	var order []string
	for _, c := range r.sim.Customers() {
		c = pgUpdate(t, r.sim, c.ID, func(c *crm.Customer) { c.FirstName += " Same" })
		if c.UpdatedAt != stamp {
			t.Fatalf("%s: updatedAt %s, want %s", c.ID, c.UpdatedAt, stamp)
		}
		order = append(order, c.ID)
	}
	slices.Sort(order)
	if got := pgExportOrder(r.sim); !slices.Equal(got, order) {
		t.Fatalf("export order %v, want by id %v", got, order)
	}

	// Positions in order; pages of 7: 0-6, 7-13, 14-20, 21-27, 28-34, ...
	var (
		// Read on pages 1-2, changed after page 2 in the same second: they
		// keep their place, so only the next pass sees that change.
		readSame = []int{1, 8, 13}
		// Not yet read, changed after page 2 in the same second: read
		// once, changed.
		unreadSame = []int{20, 33, 47}
		// Read on pages 1-4, changed after page 4 in the next second:
		// they move to the end and come again in this pass.
		readNext = []int{3, 17, 27}
		// Not yet read, changed after page 4 in the next second: read
		// once, at the end.
		unreadNext = []int{30, 44, 52}
		// Changed after page 2 (same second) and after page 6 (next
		// second): 5 read, so it moves to the end and comes again with its
		// latest record; 57 and 58 not yet read either time.
		twice = []int{5, 57, 58}
		// Changed again after page 6, in the same second as its move to
		// the end: still read once there, with its latest record.
		movedTwice = []int{17}
	)
	want := make(map[string]int)
	for _, id := range order {
		want[id] = 1
	}
	for _, i := range slices.Concat(readSame, readNext, []int{5}) {
		want[order[i]] = 2
	}
	total := 0
	for _, n := range want {
		total += n
	}

	read := make(map[string]bool)
	edit := func(n int, is ...[]int) {
		for _, i := range slices.Concat(is...) {
			pgUpdate(t, r.sim, order[i], func(c *crm.Customer) { c.InternalNote = ptr(fmt.Sprintf("after page %d", n)) })
		}
	}
	premise := func(n int, is []int, wasRead bool) {
		for _, i := range is {
			if read[order[i]] != wasRead {
				t.Errorf("after page %d: customer %d (%s) read %v, want %v", n, i, order[i], read[order[i]], wasRead)
			}
		}
	}
	pages := 0
	g.pass(t, pgPass{after: func(n int, page crm.ExportPage) {
		pages = n
		for _, c := range page.Items {
			read[c.ID] = true
		}
		switch n {
		case 2:
			premise(n, slices.Concat(readSame, twice[:1]), true)
			premise(n, slices.Concat(unreadSame, twice[1:]), false)
			edit(n, readSame, unreadSame, twice)
		case 4:
			clk.Add(time.Second)
			premise(n, readNext, true)
			premise(n, unreadNext, false)
			edit(n, readNext, unreadNext)
		case 6:
			premise(n, twice[:1], true)
			premise(n, twice[1:], false)
			edit(n, twice, movedTwice)
		}
	}})
	if pages < 9 {
		t.Errorf("the pass read %d pages, want at least 9", pages)
	}
	during := r.count()
	g.pass(t, pgPass{}) // what the pass before could not see
	// The next pass publishes the second events of readSame; with offset
	// paging also those of the 4 customers skipped when 3, 17, 27 (after
	// page 4) and 5 (after page 6) moved from pages already read to the
	// end: the premise of the test, that the pass did skip some.
	next := 3
	if paging == crmsim.PagingOffset {
		next += 4
	}
	if got := r.count() - during; got != next {
		t.Errorf("the pass after published %d events, want %d", got, next)
	}
	g.pass(t, pgPass{}) // nothing left
	if s := in.p.Status(); s.Polls != 4 || s.Err != nil {
		t.Fatalf("polls %d, err %v; want 4 complete polls", s.Polls, s.Err)
	}

	events := r.events()
	per := pgChains(t, events, first, pgRecords(r.sim), true)
	for _, id := range order {
		if got := len(per[id]); got != want[id] {
			t.Errorf("%s (position %d): %d events, want %d", id, slices.Index(order, id), got, want[id])
		}
		for _, e := range per[id] {
			if e.Change != Updated {
				t.Errorf("%s: %s event, want updated", id, e.Change)
			}
		}
	}
	if len(events) != total {
		t.Errorf("%d events, want %d", len(events), total)
	}
}

// TestCRMClockBehind is issue 4's test 3: a CRM whose clock is 90 s behind
// stamps changes before the poller's cursor (which is the CRM's own
// latest updatedAt); none is missed, whether the clock was behind from the
// start or fell behind while the poller ran, in the middle of a pass, with
// a change right then.
func TestCRMClockBehind(t *testing.T) {
	t.Run("from the start", func(t *testing.T) { testCRMClockBehind(t, true) })
	t.Run("set while running", func(t *testing.T) { testCRMClockBehind(t, false) })
}

func testCRMClockBehind(t *testing.T, fromStart bool) {
	const skew = -90 * time.Second
	r := newRig(t, crmsim.Options{PageSize: 4})
	if fromStart {
		r.sim.SetClockSkew(skew)
	}
	r.sim.Seed(12)
	cfg := r.cfg
	cfg.ReconcileInterval = 300 * time.Millisecond
	seeded := r.sim.Customers()
	id := func(i int) string { return seeded[i].ID }
	// Armed, the poller's export sets the clock behind after the second
	// page of a pass and changes a customer right then.
	var armed atomic.Bool
	midPass := make(chan string, 1)
	client := hookedCRM{CRM: r.client(), after: func(n int) {
		if n == 2 && armed.CompareAndSwap(true, false) {
			r.sim.SetClockSkew(skew)
			midPass <- pgUpdate(t, r.sim, id(9), func(c *crm.Customer) { c.LastName = ptr("MidPass") }).UpdatedAt
		}
	}}
	in := r.start(cfg, client, nil)
	in.polls(t, 1)
	first := pgRecords(r.sim)
	want := map[string]int{}
	total := 0
	expect := func(id string) { want[id]++; total++ }
	create := func(phone string) {
		c, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "New", Phone: phone})
		if err != nil {
			t.Fatal(err)
		}
		expect(c.ID)
	}

	// Round 1; then the cursor is at these changes' updatedAt.
	pgUpdate(t, r.sim, id(0), func(c *crm.Customer) { c.LastName = ptr("Round1") })
	expect(id(0))
	pgUpdate(t, r.sim, id(1), func(c *crm.Customer) { c.Email = "round1@example.com" })
	expect(id(1))
	create("+44 20 7946 0101")
	r.waitEvents(total)
	in.polls(t, 2)
	cur := pgCursor(t, r)

	var stamps []string
	if !fromStart {
		armed.Store(true)
		timer := time.NewTimer(30 * time.Second)
		defer timer.Stop()
		select {
		case s := <-midPass:
			stamps = append(stamps, s)
			expect(id(9))
		case <-timer.C:
			t.Fatal("after 30s: no pass had a second page")
		}
	}
	// Round 2, behind: customer 0 changes again, its updatedAt now before
	// the one it had.
	stamps = append(stamps, pgUpdate(t, r.sim, id(0), func(c *crm.Customer) { c.LastName = ptr("Round2") }).UpdatedAt)
	expect(id(0))
	stamps = append(stamps, pgUpdate(t, r.sim, id(2), func(c *crm.Customer) { c.InternalNote = ptr("round 2") }).UpdatedAt)
	expect(id(2))
	stamps = append(stamps, pgUpdate(t, r.sim, id(3), func(c *crm.Customer) { c.FirstName += " Two"; c.Number = "N-3-2" }).UpdatedAt)
	expect(id(3))
	create("+44 20 7946 0102")
	create("+44 20 7946 0103")
	a, err := r.sim.Archive(id(4))
	if err != nil {
		t.Fatal(err)
	}
	stamps = append(stamps, a.UpdatedAt)
	expect(id(4))
	if err := r.sim.Delete(id(5)); err != nil {
		t.Fatal(err)
	}
	expect(id(5))
	for _, i := range []int{6, 7, 8} {
		if _, err := r.sim.Touch(id(i)); err != nil {
			t.Fatal(err)
		}
	}
	// The premise: these changes are stamped 90 s in the past, and, when the
	// clock fell behind while running, before the poller's cursor.
	now := time.Now()
	for _, s := range stamps {
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		if now.Sub(at) < 80*time.Second {
			t.Fatalf("change stamped %s, %v before now: the clock is not behind", s, now.Sub(at))
		}
		if !fromStart && !at.Before(cur) {
			t.Fatalf("change stamped %s, not before the cursor %s", s, cur.Format(time.RFC3339Nano))
		}
	}
	r.waitEvents(total)
	in.polls(t, 2)

	// Round 3, still behind, on customers changed or touched before.
	pgUpdate(t, r.sim, id(2), func(c *crm.Customer) { c.InternalNote = ptr("round 3") })
	expect(id(2))
	pgUpdate(t, r.sim, id(7), func(c *crm.Customer) { c.LastName = ptr("Round3") })
	expect(id(7))
	r.waitEvents(total)
	in.polls(t, 12) // reconciles included: nothing further

	events := r.events()
	per := pgChains(t, events, first, pgRecords(r.sim), false)
	for _, c := range seeded {
		if got := len(per[c.ID]); got != want[c.ID] {
			t.Errorf("%s: %d events, want %d", c.ID, got, want[c.ID])
		}
	}
	if len(events) != total {
		t.Errorf("%d events, want %d", len(events), total)
	}
}

// pgCursor returns the saved cursor's updatedSince.
func pgCursor(t *testing.T, r *rig) time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, rev, err := stateStore(t, r.js).cursor(ctx)
	if err != nil || rev == 0 {
		t.Fatalf("cursor: got revision %d, %v; want one", rev, err)
	}
	at, err := time.Parse(time.RFC3339Nano, c.Since)
	if err != nil {
		t.Fatalf("cursor %s: %v", c.Since, err)
	}
	return at
}

// TestFailedPageMakesNoDeletes is issue 4's test 7: when a page in the
// middle of a complete export fails, the poller does not take the
// customers it has not read for deleted (it does not even ask the CRM
// about them), retries, and completes later; the customers really deleted
// meanwhile, before or after the failed page, each give exactly one
// deleted event.
func TestFailedPageMakesNoDeletes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(r *rig) // after page 2 of the failing pass: page 3 fails
		fail   func(n int) error
		clear  func(r *rig) // before the retry
	}{
		{name: "400", inject: func(r *rig) { r.sim.ForceError(crmsim.OpExport, crm.CodeCompactInactive, 1) }},
		{
			name: "503",
			inject: func(r *rig) {
				if err := r.sim.SetFaults(crmsim.Faults{ErrorRate: 1}); err != nil {
					r.t.Error(err)
				}
			},
			clear: func(r *rig) {
				if err := r.sim.SetFaults(crmsim.Faults{}); err != nil {
					r.t.Fatal(err)
				}
			},
		},
		{name: "broken", fail: func(n int) error {
			if n == 3 {
				return &crm.Error{Op: "export", Message: "connection reset (test)"}
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, crmsim.Options{PageSize: 5})
			r.sim.Seed(30)
			cfg := r.cfg
			cfg.ReconcileInterval = time.Nanosecond // every pass reads the complete export
			g := newPgGate(r.client())
			in := r.start(cfg, g, nil)
			g.pass(t, pgPass{})
			if s := in.p.Status(); s.Polls != 1 || s.Err != nil {
				t.Fatalf("first pass: polls %d, err %v", s.Polls, s.Err)
			}
			order := pgExportOrder(r.sim)
			first := pgRecords(r.sim)
			// Deleted while the failing pass pages: one read before (page
			// 1), one after (page 6) the failed page.
			gone := []string{order[1], order[27]}
			slices.Sort(gone)

			read := make(map[string]bool)
			since := g.pass(t, pgPass{fail: tc.fail, after: func(n int, page crm.ExportPage) {
				for _, c := range page.Items {
					read[c.ID] = true
				}
				if n != 2 {
					return
				}
				for _, id := range gone {
					if err := r.sim.Delete(id); err != nil {
						t.Error(err)
					}
				}
				if tc.inject != nil {
					tc.inject(r)
				}
			}})
			if !since.IsZero() {
				t.Fatalf("the pass asked for changes since %v, want the complete export", since)
			}
			if s := in.p.Status(); s.Polls != 1 || s.Err == nil {
				t.Fatalf("the failing pass: polls %d, err %v; want it failed", s.Polls, s.Err)
			}
			if len(read) != 10 {
				t.Errorf("the failing pass read %d customers, want 10 (2 pages)", len(read))
			}
			if n := r.count(); n != 0 {
				t.Errorf("the failing pass published %d events, want none", n)
			}
			if ids := g.takeGets(); len(ids) != 0 {
				t.Errorf("the failing pass asked the CRM about %v, want none", ids)
			}

			if tc.clear != nil {
				tc.clear(r)
			}
			g.pass(t, pgPass{}) // the retry
			if s := in.p.Status(); s.Polls != 2 || s.Err != nil {
				t.Fatalf("the retry: polls %d, err %v; want it complete", s.Polls, s.Err)
			}
			if ids := g.takeGets(); !slices.Equal(ids, gone) {
				t.Errorf("the retry asked the CRM about %v, want %v", ids, gone)
			}
			g.pass(t, pgPass{})

			// A deletion found by a later complete export.
			gone = append(gone, order[12])
			if err := r.sim.Delete(order[12]); err != nil {
				t.Fatal(err)
			}
			g.pass(t, pgPass{})
			g.pass(t, pgPass{})
			if s := in.p.Status(); s.Polls != 5 || s.Err != nil {
				t.Fatalf("polls %d, err %v; want 5 complete polls", s.Polls, s.Err)
			}

			events := r.events()
			pgChains(t, events, first, pgRecords(r.sim), true)
			var deleted []string
			for _, e := range events {
				if e.Change != Deleted {
					t.Errorf("%s event for %s, want only deleted", e.Change, e.CustomerID)
				}
				deleted = append(deleted, e.CustomerID)
			}
			slices.Sort(deleted)
			slices.Sort(gone)
			if !slices.Equal(deleted, gone) {
				t.Errorf("deleted events for %v, want one each for %v", deleted, gone)
			}
		})
	}
}

// TestDeleteWhilePagingSkipsNoChange: with offset paging, deleting a
// customer the pass has already read shifts every later record back by
// one, so the record that would have started the next page moves to the
// page already read, and the pass skips it without a customer coming twice:
// the pass looks stable. If the skipped record's change is older than the
// newest updatedAt of the pass less the overlap (the pass covered more than
// the overlap of new changes, after an outage, say), the next passes,
// which read from there, do not see it either: the change waits for the
// next reconcile, up to ReconcileInterval (1h by default). The contract
// says no change is lost when a record moves between pages while the
// export is paged; here it must be published by the passes that follow,
// well before the next reconcile is due. Keyset paging, where a delete
// shifts nothing, is the control.
func TestDeleteWhilePagingSkipsNoChange(t *testing.T) {
	for _, paging := range []crmsim.Paging{crmsim.PagingKeyset, crmsim.PagingOffset} {
		t.Run(paging.String(), func(t *testing.T) {
			clk := newPgClock(time.Now().UTC().Truncate(time.Second))
			r := newRig(t, crmsim.Options{PageSize: 1, Paging: paging, Now: clk.Now})
			r.sim.Seed(3)
			g := newPgGate(r.client()) // ReconcileInterval: 1h, not due again in this test
			in := r.start(r.cfg, g, nil)
			g.pass(t, pgPass{})
			first := pgRecords(r.sim)
			ids := slices.Sorted(maps.Keys(first))
			deleted, skipped, later := ids[0], ids[1], ids[2]

			// deleted and skipped change in one second, later more than
			// the overlap after: the export reads deleted, skipped, later.
			clk.Add(10 * time.Second)
			pgUpdate(t, r.sim, deleted, func(c *crm.Customer) { c.InternalNote = ptr("deleted") })
			pgUpdate(t, r.sim, skipped, func(c *crm.Customer) { c.InternalNote = ptr("skipped") })
			clk.Add(r.cfg.withDefaults().Overlap + 30*time.Second)
			pgUpdate(t, r.sim, later, func(c *crm.Customer) { c.InternalNote = ptr("later") })
			if got := pgExportOrder(r.sim); !slices.Equal(got, []string{deleted, skipped, later}) {
				t.Fatalf("export order %v, want %v", got, []string{deleted, skipped, later})
			}

			var read []string
			g.pass(t, pgPass{after: func(n int, page crm.ExportPage) {
				for _, c := range page.Items {
					read = append(read, c.ID)
				}
				if n == 1 {
					if err := r.sim.Delete(deleted); err != nil {
						t.Error(err)
					}
				}
			}})
			want := []string{deleted, skipped, later}
			if paging == crmsim.PagingOffset {
				want = []string{deleted, later} // the premise: skipped was skipped
			}
			if !slices.Equal(read, want) {
				t.Fatalf("the pass read %v, want %v", read, want)
			}
			g.pass(t, pgPass{})
			g.pass(t, pgPass{})
			if s := in.p.Status(); s.Polls != 4 || s.Err != nil {
				t.Fatalf("polls %d, err %v; want 4 complete polls", s.Polls, s.Err)
			}

			var got []string
			for _, e := range r.events() {
				if e.CustomerID == skipped {
					got = append(got, e.Change)
					now, _ := r.sim.Customer(skipped)
					if e.Change != Updated || !pgSame(t, e.Before, first[skipped]) || !pgSame(t, e.After, now.Raw) {
						t.Errorf("%s: %s event from %s to %s", skipped, e.Change, e.Before, e.After)
					}
				}
			}
			if len(got) != 1 {
				t.Errorf("%s: %d events %v two passes after its change was skipped, want 1 updated", skipped, len(got), got)
			}
		})
	}
}
