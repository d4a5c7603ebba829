package poller

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"pgregory.net/rapid"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/streams"
)

// mdlChecks is how many random histories TestPropertyPollerFollowsTheCRM
// tries, unless -rapid.checks or RAPID_CHECKS says otherwise: each is a
// few passes of a real poller, a few hundred milliseconds under -race.
// 12 once; 40 since a bug that one history in a few hundred showed went
// through many runs of 12 (TestSkippedCustomerKeepsItsChunk): some 20 s
// of a make test on two cores. RAPID_CHECKS=600 for a thorough run.
const mdlChecks = 40

// TestPropertyPollerFollowsTheCRM is issue 4's property test: random
// histories of out-of-band changes (creates, updates of random fields,
// touches, archives, deletes, the CRM's clock falling 90 s behind and
// catching up), in seconds shared by several changes or not, made between
// the poller's passes and while it pages (keyset or offset paging, pages of
// 1 to 4), with complete exports (reconciles) now and then, restarts, and
// a last reconcile. After each pass, every customer the pass must have
// seen as it is is published as it is (or as gone, after a reconcile); at
// the end, per customer, the events chain from the record the poller first
// knew to the CRM's record now (to a deleted event when it is gone, to
// nothing when the poller never could see it), in the order the CRM's
// records followed each other, no ce-id twice, every updated event naming
// exactly Diff(before, after), never empty: touches alone give no event.
func TestPropertyPollerFollowsTheCRM(t *testing.T) {
	mdlFewChecks(t, mdlChecks)
	// One NATS server for all the histories; each starts from empty
	// buckets and an empty event stream, with its own simulator.
	base := newRig(t, crmsim.Options{})
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		m := newMdl(t, rt, base, run)
		m.play()
	})
}

// mdlFewChecks lowers rapid's number of checks for this test to n, unless
// the command line or RAPID_CHECKS set it. rapid v1.3 has no per-Check
// option; its flags are read when Check starts, and tests of this package
// that run later get the old value back.
func mdlFewChecks(t *testing.T, n int) {
	f := flag.Lookup("rapid.checks")
	if f == nil {
		return
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if _, env := os.LookupEnv("RAPID_CHECKS"); set || env {
		return
	}
	old := f.Value.String()
	if err := f.Value.Set(strconv.Itoa(n)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Value.Set(old) })
}

// mdl is one history: the simulator, the poller, and what the CRM's records
// were.
type mdl struct {
	t      *testing.T // for the rig's helpers
	rt     *rapid.T
	r      *rig
	g      *pgGate
	in     *instance
	cfg    Config
	paging crmsim.Paging
	clk    *pgClock // the CRM's
	bclk   *pgClock // the bridge's: moved on by a ReconcileInterval for a reconcile
	polls  uint64   // complete polls expected of m.in
	// chunkFrom is the poller's (Poller.chunkFrom).
	chunkFrom int

	ids     []string                     // every customer, in creation order
	hist    map[string][]json.RawMessage // each one's records in order; nil last: deleted
	known   map[string]json.RawMessage   // the record of its last event (nil: deleted), if any
	visible map[string]bool              // existed while a pass ran
	// While the first start has not completed a stable pass, the poller
	// records the customers it finds without events (unless
	// InitialEvents): silent, and silently holds, per customer, the
	// places in its history of the records that it may have recorded so.
	silent   bool
	silently map[string]map[int]bool
	stream   jetstream.Stream // CRM_EVENTS, this history's events from next on
	next     uint64           // the sequence of the next event to read
	events   []stored         // the events read
	phones   int              // for unique phones
	log      []string         // what happened, for a failure
}

// mdlOp is one change to the CRM, drawn before it is made (a change made
// while the poller pages runs on the poller's goroutine, where nothing may
// be drawn).
type mdlOp struct {
	kind string        // create, update, touch, archive, delete, skew, jump
	tick time.Duration // the CRM's clock moves on by this first
	who  int           // which live customer (modulo their number)
	page int           // while paging: after this page
	edit []mdlEdit     // update: the fields
	skew time.Duration // skew: the CRM's clock skew from now on
	name string        // create: the first name
}

type mdlEdit struct {
	field string
	value string // "": nil or empty
}

// mdlValues are the values an edit draws from, "" for nil/empty; few, so
// that an edit often changes nothing or sets a field back.
var mdlValues = map[string][]string{
	"firstName":    {"Ann", "Bob", "Cy"},
	"lastName":     {"", "Lee", "Ng"},
	"email":        {"", "a@example.com", "b@example.com"},
	"number":       {"N1", "N2"},
	"cityId":       {"", "city_1", "city_2"},
	"birthDate":    {"", "1990-01-02", "1985-12-31"},
	"gender":       {"", "F", "M"},
	"unsubscribed": {"", "true", "false"},
	"internalNote": {"", "x", "y"},
	"phone":        {"new"},
}

func newMdl(t *testing.T, rt *rapid.T, base *rig, run int) *mdl {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, name := range []string{StateStream, "KV_" + LeaseBucket} {
		if err := base.js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Fatal(err)
		}
	}
	events, err := base.js.Stream(ctx, streams.Events)
	if err != nil {
		t.Fatal(err)
	}
	if err := events.Purge(ctx); err != nil {
		t.Fatal(err)
	}
	info, err := events.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}

	m := &mdl{
		t:        t,
		rt:       rt,
		paging:   rapid.SampledFrom([]crmsim.Paging{crmsim.PagingKeyset, crmsim.PagingOffset}).Draw(rt, "paging"),
		hist:     make(map[string][]json.RawMessage),
		known:    make(map[string]json.RawMessage),
		visible:  make(map[string]bool),
		silently: make(map[string]map[int]bool),
		stream:   events,
		next:     info.State.LastSeq + 1,
	}
	// A day apart per history, so that no event of one has the ce-id of
	// one of another (JetStream's duplicate window outlives a purge).
	m.clk = newPgClock(time.Now().UTC().Truncate(time.Second).Add(time.Duration(run) * 24 * time.Hour))
	m.bclk = newPgClock(time.Now().Add(-1000 * time.Hour))
	sim, err := crmsim.New(crmsim.Options{
		PageSize:          rapid.IntRange(1, 4).Draw(rt, "page size"),
		Paging:            m.paging,
		Now:               m.clk.Now,
		RandSeed:          rapid.Uint64().Draw(rt, "seed"),
		ValidateResponses: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	rt.Cleanup(func() {
		sim.Close()
		for _, err := range sim.ResponseErrors() {
			rt.Errorf("simulator answer invalid: %v", err)
		}
	})
	m.r = &rig{t: t, srv: base.srv, js: base.js, sim: sim, cfg: base.cfg}
	m.g = newPgGate(m.r.client())
	m.cfg = base.cfg
	m.cfg.Now = m.bclk.Now
	m.cfg.ReconcileInterval = time.Hour
	m.cfg.InitialEvents = rapid.Bool().Draw(rt, "initial events")

	// Rounds of one record or more saved in chunks, or of chunkFrom.
	m.chunkFrom = rapid.SampledFrom([]int{1, chunkFrom}).Draw(rt, "chunk from")

	sim.Seed(rapid.IntRange(0, 6).Draw(rt, "customers"))
	m.silent = !m.cfg.InitialEvents
	for _, c := range sim.Customers() {
		m.ids = append(m.ids, c.ID)
		m.hist[c.ID] = []json.RawMessage{c.Raw}
	}
	m.logf("%s paging, page size %d, %d customers, initial events %v", m.paging, sim.PageSize(), len(m.ids), m.cfg.InitialEvents)
	return m
}

func (m *mdl) logf(format string, args ...any) { m.log = append(m.log, fmt.Sprintf(format, args...)) }

// flushLog hands the log to rapid, which shows it for a failing history.
func (m *mdl) flushLog() {
	for _, l := range m.log {
		m.rt.Log(l)
	}
	m.log = nil
}

func (m *mdl) start() {
	m.in = m.r.start(m.cfg, m.g, func(p *Poller) { p.chunkFrom = m.chunkFrom })
	in := m.in
	m.rt.Cleanup(func() { in.stop(m.t) })
	m.polls = 0
}

// play runs the history: a first start, steps, a last reconcile.
func (m *mdl) play() {
	defer m.flushLog()
	m.start()
	for range rapid.IntRange(1, 6).Draw(m.rt, "steps") {
		m.step()
	}
	// A reconcile is due from the pass after the one held now, which
	// started before the bridge's clock moved on.
	m.logf("last reconcile")
	m.bclk.Add(m.cfg.ReconcileInterval)
	m.pass(nil, false)
	m.pass(nil, true)
	before := len(m.events)
	m.pass(nil, false)
	if n := len(m.events); n != before {
		m.rt.Errorf("a pass after the last reconcile published %d events, want none", n-before)
	}
	m.final()
}

// step makes changes between two passes, then a pass with changes while it
// pages; a reconcile or a restart now and then.
func (m *mdl) step() {
	rt := m.rt
	var pre, during []mdlOp
	for range rapid.IntRange(0, 3).Draw(rt, "changes between passes") {
		pre = append(pre, m.drawOp(true))
	}
	for range rapid.IntRange(0, 3).Draw(rt, "changes while paging") {
		op := m.drawOp(false)
		op.page = rapid.IntRange(1, 3).Draw(rt, "after page")
		during = append(during, op)
	}
	slices.SortStableFunc(during, func(a, b mdlOp) int { return a.page - b.page })
	reconcile := rapid.IntRange(0, 3).Draw(rt, "reconcile") == 0
	restart := rapid.IntRange(0, 7).Draw(rt, "restart") == 0

	for _, op := range pre {
		m.do(op, nil)
	}
	if reconcile {
		// Due from the next pass that starts: the one held now started
		// before (unless it is stopped for a restart).
		m.bclk.Add(m.cfg.ReconcileInterval)
	}
	if restart {
		m.logf("restart")
		m.in.stop(m.t)
		m.g.forget()
		m.start()
	}
	m.pass(during, false)
}

// drawOp draws a change; between passes, the CRM's clock may also jump
// further than the poller's overlap.
func (m *mdl) drawOp(between bool) mdlOp {
	rt := m.rt
	kinds := []string{"create", "update", "update", "update", "touch", "archive", "delete", "skew"}
	if between {
		kinds = append(kinds, "jump")
	}
	op := mdlOp{
		kind: rapid.SampledFrom(kinds).Draw(rt, "change"),
		tick: rapid.SampledFrom([]time.Duration{0, 0, time.Second}).Draw(rt, "tick"),
		who:  rapid.IntRange(0, 1<<10).Draw(rt, "who"),
	}
	switch op.kind {
	case "create":
		op.name = rapid.SampledFrom(mdlValues["firstName"]).Draw(rt, "first name")
	case "update":
		fields := make([]string, 0, len(mdlValues))
		for f := range mdlValues {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		for _, f := range rapid.SliceOfNDistinct(rapid.SampledFrom(fields), 1, 3, rapid.ID).Draw(rt, "fields") {
			op.edit = append(op.edit, mdlEdit{f, rapid.SampledFrom(mdlValues[f]).Draw(rt, f)})
		}
	case "skew":
		op.skew = rapid.SampledFrom([]time.Duration{0, -90 * time.Second}).Draw(rt, "skew")
	}
	return op
}

// live returns the customers the CRM holds, in creation order.
func (m *mdl) live() []string {
	var ids []string
	for _, id := range m.ids {
		if h := m.hist[id]; h[len(h)-1] != nil {
			ids = append(ids, id)
		}
	}
	return ids
}

// record notes a customer's record after a change, if it changed.
func (m *mdl) record(id string, raw json.RawMessage) {
	h := m.hist[id]
	if len(h) > 0 && h[len(h)-1] != nil && raw != nil && pgSame(m.rt, h[len(h)-1], raw) {
		return
	}
	m.hist[id] = append(h, raw)
}

// do makes a change; touched, when not nil (while paging), gets the
// customer changed. It runs on the poller's goroutine while paging: it
// draws nothing and reports through the log.
func (m *mdl) do(op mdlOp, touched map[string]bool) {
	m.clk.Add(op.tick)
	sim := m.r.sim
	where := "between passes"
	if touched != nil {
		where = fmt.Sprintf("after page %d", op.page)
	}
	live := m.live()
	if len(live) == 0 && op.kind != "skew" && op.kind != "jump" {
		op.kind = "create"
	}
	var id string
	if len(live) > 0 {
		id = live[op.who%len(live)]
	}
	var (
		c   crm.Customer
		err error
	)
	switch op.kind {
	case "jump":
		m.clk.Add(150 * time.Second)
		m.logf("%s: the CRM's clock jumps to %s", where, sim.Now().Format(time.RFC3339))
		return
	case "skew":
		sim.SetClockSkew(op.skew)
		m.logf("%s: the CRM's clock skew is %v", where, op.skew)
		return
	case "create":
		m.phones++
		c, err = sim.CreateCustomer(crm.CreateParams{FirstName: op.name, Phone: fmt.Sprintf("+1 555 900 %04d", m.phones)})
		if err == nil {
			id = c.ID
			m.ids = append(m.ids, id)
			if touched != nil {
				m.visible[id] = true
			}
		}
	case "update":
		c, err = sim.UpdateCustomer(id, func(c *crm.Customer) {
			for _, e := range op.edit {
				m.apply(c, e)
			}
		})
		if errors.Is(err, crmsim.ErrNoChanges) {
			m.logf("%s: %s: no change (%v)", where, id, op.edit)
			return
		}
	case "touch":
		c, err = sim.Touch(id)
	case "archive":
		c, err = sim.Archive(id)
	case "delete":
		err = sim.Delete(id)
	}
	if err != nil {
		m.logf("%s: %s %s: %v", where, op.kind, id, err)
		m.rt.Errorf("%s %s: %v", op.kind, id, err)
		return
	}
	if touched != nil {
		touched[id] = true
	}
	if op.kind == "delete" {
		m.record(id, nil)
		m.logf("%s: delete %s", where, id)
		return
	}
	m.record(id, c.Raw)
	m.logf("%s: %s %s %v at %s", where, op.kind, id, op.edit, c.UpdatedAt)
}

// apply makes one edit of an update.
func (m *mdl) apply(c *crm.Customer, e mdlEdit) {
	opt := func(v string) *string {
		if v == "" {
			return nil
		}
		return &v
	}
	switch e.field {
	case "firstName":
		c.FirstName = e.value
	case "lastName":
		c.LastName = opt(e.value)
	case "email":
		c.Email = e.value
	case "number":
		c.Number = e.value
	case "cityId":
		c.CityID = opt(e.value)
	case "birthDate":
		c.BirthDate = opt(e.value)
	case "gender":
		c.Gender = nil
		if e.value != "" {
			c.Gender = json.RawMessage(strconv.Quote(e.value))
		}
	case "unsubscribed":
		c.Unsubscribed = nil
		if e.value != "" {
			b := e.value == "true"
			c.Unsubscribed = &b
		}
	case "internalNote":
		c.InternalNote = opt(e.value)
	case "phone":
		m.phones++
		c.Phone = fmt.Sprintf("+1 555 800 %04d", m.phones)
	}
}

// pass runs one pass with the changes during it made after their pages
// (those after the last page once it has ended), and checks it; reconcile
// says it must be a complete export.
//
// What a pass guarantees: it reads every record whose updatedAt is at
// least its updatedSince (the cursor less the overlap), unless the export
// shifts under it. A change the poller has not published is stamped at
// least at the CRM's time when the last stable pass read it, less the
// CRM's clock lag, and the cursor is at most the CRM's time at the end of
// that pass; the histories keep within the overlap (2 min) by letting the
// clock lag by 90 s at most and move on by a second at most per change
// while the poller pages (a jump further than the overlap comes between
// passes only). Keyset paging never skips a record that did not itself
// change meanwhile; offset paging may skip any record when another moves
// or goes, so a pass during which nothing changed is checked, and with
// keyset paging also one during which others changed.
func (m *mdl) pass(during []mdlOp, reconcile bool) {
	rt := m.rt
	for _, id := range m.live() {
		m.visible[id] = true
	}
	from := make(map[string]int) // where each customer's history was at the start
	for _, id := range m.ids {
		from[id] = len(m.hist[id]) - 1
	}
	touched := make(map[string]bool)
	done := 0
	since := m.g.pass(rt, pgPass{after: func(n int, _ crm.ExportPage) {
		for ; done < len(during) && during[done].page <= n; done++ {
			m.do(during[done], touched)
		}
	}})
	quiet := done == 0
	// The changes meant for pages the pass did not have come after it.
	defer func() {
		for _, op := range during[done:] {
			m.do(op, nil)
		}
	}()
	m.polls++
	kind := "changes since " + since.UTC().Format(time.RFC3339)
	if since.IsZero() {
		kind = "reconcile"
	}
	m.logf("pass %d (%s): %d changes while paging", m.polls, kind, done)
	if s := m.in.p.Status(); s.Polls != m.polls || s.Err != nil {
		m.flushLog()
		rt.Fatalf("pass %d: %d complete polls, err %v", m.polls, s.Polls, s.Err)
	}
	if reconcile && !since.IsZero() {
		m.flushLog()
		rt.Fatalf("pass %d: asked for changes since %v, want a reconcile", m.polls, since)
	}

	for _, e := range m.read() {
		if e.Change == Deleted {
			m.known[e.CustomerID] = nil
		} else {
			m.known[e.CustomerID] = e.After
		}
		m.logf("  event %d: %s %s %v", e.seq, e.Change, e.CustomerID, e.Fields)
	}
	if m.silent {
		// What this pass of the first start may have recorded without an
		// event: any record a customer had while it ran.
		for _, id := range m.ids {
			if m.silently[id] == nil {
				m.silently[id] = make(map[int]bool)
			}
			for j := max(from[id], 0); j < len(m.hist[id]); j++ {
				if m.hist[id][j] != nil {
					m.silently[id][j] = true
				}
			}
		}
		if m.initialized() {
			m.silent = false
			m.logf("  the first start is complete")
		}
	}

	// What the pass must have seen as it is: every customer, if nothing
	// changed while it paged; with keyset paging, every customer that did
	// not change itself (the others' changes do not shift it). A gone
	// customer is seen gone by a reconcile only.
	if !quiet && m.paging != crmsim.PagingKeyset {
		return
	}
	for _, id := range m.ids {
		if touched[id] {
			continue
		}
		h := m.hist[id]
		now := h[len(h)-1]
		if now == nil && !since.IsZero() {
			continue
		}
		if known, ok := m.known[id]; ok {
			if !pgSameFields(rt, known, now) {
				m.flushLog()
				rt.Errorf("pass %d: %s as last published\n%s\nbut the CRM's record is\n%s", m.polls, id, known, now)
			}
			continue
		}
		// No event: recorded silently as it is now, or not at all.
		if now != nil && m.silentlyAs(id, now) < 0 {
			m.flushLog()
			rt.Errorf("pass %d: %s has no event, and its record is not one the first start could have recorded\n%s", m.polls, id, now)
		}
	}
}

// silentlyAs returns the place in id's history of a record the first
// start may have recorded silently that is rec but for touches, or -1.
func (m *mdl) silentlyAs(id string, rec json.RawMessage) int {
	for j := range m.hist[id] {
		if m.silently[id][j] && pgSameFields(m.rt, m.hist[id][j], rec) {
			return j
		}
	}
	return -1
}

// initialized reports whether the saved cursor says the first start is
// complete.
func (m *mdl) initialized() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, rev, err := stateStore(m.t, m.r.js).cursor(ctx)
	if err != nil || rev == 0 {
		m.t.Fatalf("cursor: got revision %d, %v; want one", rev, err)
	}
	return c.Initialized
}

// read reads the events published since it last did, by sequence (a
// consumer per pass would pile up), adds them to m.events and returns them.
func (m *mdl) read() []stored {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	info, err := m.stream.Info(ctx)
	if err != nil {
		m.t.Fatal(err)
	}
	n := len(m.events)
	for ; m.next <= info.State.LastSeq; m.next++ {
		raw, err := m.stream.GetMsg(ctx, m.next)
		if err != nil {
			m.t.Fatalf("event %d: %v", m.next, err)
		}
		var e struct {
			Event
			DetectedAt string `json:"detectedAt"`
		}
		if err := json.Unmarshal(raw.Data, &e); err != nil {
			m.t.Fatalf("event %d %s: %v", m.next, raw.Data, err)
		}
		m.events = append(m.events, stored{Event: e.Event, seq: raw.Sequence, header: raw.Header})
	}
	return m.events[n:]
}

// final checks every event, and each customer's events against its
// records.
func (m *mdl) final() {
	rt := m.rt
	per := make(map[string][]stored)
	for _, e := range m.events {
		per[e.CustomerID] = append(per[e.CustomerID], e)
	}
	// Where each customer's chain starts: nothing, or the record the first
	// start recorded without an event, start its place in the history.
	first, last := make(map[string]json.RawMessage), make(map[string]json.RawMessage)
	start := make(map[string]int)
	for _, id := range m.ids {
		h, evs := m.hist[id], per[id]
		now := h[len(h)-1]
		if now != nil {
			last[id] = now
		}
		start[id] = -1
		switch {
		case len(evs) > 0 && !isNull(evs[0].Before):
			// A record the first start recorded, or a later one that
			// differs from it by touches, which the poller records
			// without an event.
			if k := m.silentlyAs(id, evs[0].Before); k >= 0 {
				for j := k; j < len(h); j++ {
					if h[j] != nil && pgSame(rt, h[j], evs[0].Before) {
						first[id], start[id] = h[j], j
						break
					}
				}
			}
			if start[id] < 0 {
				rt.Errorf("%s: its first event (%d, %s) has a before that is not a record the first start could have recorded\n%s", id, evs[0].seq, evs[0].Change, evs[0].Before)
			}
		case len(evs) == 0 && now != nil:
			if j := m.silentlyAs(id, now); j >= 0 {
				first[id], start[id] = h[j], j
			}
		}
	}
	pgChains(rt, m.events, first, last, false)
	for _, id := range m.ids {
		evs, h := per[id], m.hist[id]
		if !m.visible[id] && len(evs) > 0 {
			rt.Errorf("%s: %d events, but it never existed while a pass ran", id, len(evs))
		}
		// The records of the events follow the CRM's in order: pos is
		// the place in the history of the poller's record, -1 for none.
		pos := start[id]
		find := func(rec json.RawMessage, from int) int {
			for j := max(from, 0); j < len(h); j++ {
				if isNull(rec) && h[j] == nil || !isNull(rec) && h[j] != nil && pgSame(rt, rec, h[j]) {
					return j
				}
			}
			return -1
		}
		for i, e := range evs {
			if !isNull(e.Before) {
				j := find(e.Before, pos)
				if j < 0 {
					rt.Errorf("%s: event %d (%d of %d) has a before that is not a record of the CRM's from the last published on\n%s", id, e.seq, i+1, len(evs), e.Before)
					break
				}
				pos = j
			}
			j := find(e.After, pos+1)
			if j < 0 {
				rt.Errorf("%s: event %d (%d of %d, %s) has an after that is not a later record of the CRM's\n%s", id, e.seq, i+1, len(evs), e.Change, e.After)
				break
			}
			pos = j
		}
	}
	if rt.Failed() {
		for _, id := range m.ids {
			for i, rec := range m.hist[id] {
				m.logf("%s record %d: %s", id, i, rec)
			}
		}
	}
}
