package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/gormic/crm-bridge/internal/commands/commandtest"
	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/poller"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/schemas"
)

// check verifies, once the workload is published and the faults are over,
// the invariants every scenario must keep:
//
//  1. every command has exactly one result, with the status it must have;
//     each one not applied has a dead letter, and only those; every result
//     and dead letter matches its JSON Schema (schemas.Validate);
//  2. the CRM's state is each customer's commands applied in stream order
//     (the CRM's own log of updates shows them in that order, each once),
//     and no customer was created twice;
//  3. nothing sits unacknowledged or undelivered in the command consumers;
//  4. the change events follow the CRM: each customer's events chain
//     (each before is the previous after), no event twice (ce-id), never
//     more events than the CRM made changes, and the last event of each
//     customer is its state in the CRM now, or deleted when it is gone;
//  5. the read model CRM_CUSTOMERS holds exactly the CRM's customers, each
//     as the CRM has it now, and says it is filled.
func (w *world) check() {
	w.t.Helper()
	w.waitResults(len(w.cmds), 5*time.Minute)
	w.checkResults()
	w.checkCRM()
	w.checkConsumers()
	w.checkEvents()
	w.checkModel()
	oob := 0
	for _, c := range w.sim.Changes() {
		if c.Via != "api" {
			oob++
		}
	}
	w.t.Logf("checked %d commands, %d dead letters, %d changes in the CRM (%d out of band), %d change events",
		len(w.cmds), natstest.Count(w.js, streams.DLQ, ">"), len(w.sim.Changes()), oob,
		natstest.Count(w.js, streams.Events, w.subj.AllChanged()))
}

func (w *world) checkResults() {
	w.t.Helper()
	got := commandtest.Results(w.t, w.js, w.subj)
	failed := 0
	for i, c := range w.cmds {
		r, ok := got[c.id]
		switch {
		case !ok:
			w.t.Errorf("command %s has no result", c.id)
			continue
		case r.Status != c.want:
			failed++
			if failed <= 10 {
				w.t.Errorf("command %s (%s %s): status %s (error %+v), want %s", c.id, c.op, c.body, r.Status, r.Error, c.want)
			}
		case c.op == streams.OpCreate && c.want == "applied" && r.CustomerID == "":
			w.t.Errorf("create %s applied without a customer id", c.id)
		}
		// A create's customer is known only from its result; checkCRM
		// reads it from here.
		w.cmds[i].customer = cmp.Or(c.customer, r.CustomerID)
		delete(got, c.id)
	}
	if failed > 10 {
		w.t.Errorf("... %d commands in all with a status other than the one they must have", failed)
	}
	for id := range got {
		w.t.Errorf("result for %s, which was never published", id)
	}
	wantDead := 0
	for _, c := range w.cmds {
		if c.want != "applied" {
			wantDead++
		}
	}
	letters := natstest.Messages(w.t, w.js, streams.DLQ, ">")
	for _, m := range letters {
		if err := schemas.ValidateDeadLetter(m.Headers()); err != nil {
			w.t.Errorf("dead letter %s: got %v, want its headers valid", m.Subject(), err)
		}
	}
	if n := len(letters); n != wantDead {
		w.t.Errorf("%d dead letters, want %d", n, wantDead)
	}
}

func (w *world) checkCRM() {
	w.t.Helper()
	// What each commanded customer must be: its last number, or gone.
	number := map[string]int{}
	deleted := map[string]bool{}
	order := map[string][]int{}
	creates := 0
	for _, c := range w.cmds {
		if c.want != "applied" {
			continue
		}
		switch c.op {
		case streams.OpUpdate:
			number[c.customer] = c.number
			order[c.customer] = append(order[c.customer], c.number)
		case streams.OpDelete:
			deleted[c.customer] = true
		case streams.OpCreate:
			creates++
			got, ok := w.sim.Customer(c.customer)
			switch {
			case !ok:
				w.t.Errorf("create %s: customer %s is not in the CRM", c.id, c.customer)
			case got.FirstName != c.firstName || got.Phone != c.phone:
				w.t.Errorf("create %s: customer %s is %s %s, want %s %s", c.id, c.customer, got.FirstName, got.Phone, c.firstName, c.phone)
			}
		}
	}
	for _, id := range w.commanded {
		got, ok := w.sim.Customer(id)
		switch {
		case deleted[id] && ok:
			w.t.Errorf("customer %s was deleted by a command but is in the CRM", id)
		case deleted[id]:
		case !ok:
			w.t.Errorf("customer %s is gone from the CRM; no command deleted it", id)
		default:
			want, updated := number[id]
			if updated && got.Number != strconv.Itoa(want) {
				w.t.Errorf("customer %s has number %q, want %d, its last update", id, got.Number, want)
			}
		}
	}
	// The CRM's log: each update once, in stream order; one create per
	// applied create command; one delete per deleted customer.
	applied := map[string][]int{}
	made, removed := 0, map[string]int{}
	for _, ch := range w.sim.Changes() {
		if ch.Via != "api" {
			continue
		}
		switch ch.Op {
		case crmsim.ChangeCreate:
			made++
		case crmsim.ChangeDelete:
			removed[ch.CustomerID]++
		case crmsim.ChangeUpdate:
			var p struct {
				Number string `json:"number"`
			}
			if err := json.Unmarshal(ch.Params, &p); err != nil {
				w.t.Fatal(err)
			}
			n, _ := strconv.Atoi(p.Number)
			applied[ch.CustomerID] = append(applied[ch.CustomerID], n)
		}
	}
	if made != creates {
		w.t.Errorf("the CRM created %d customers for %d applied creates", made, creates)
	}
	for id := range deleted {
		if removed[id] != 1 {
			w.t.Errorf("customer %s deleted %d times by the bridge, want once", id, removed[id])
		}
	}
	for id, want := range order {
		if fmt.Sprint(applied[id]) != fmt.Sprint(want) {
			w.t.Errorf("customer %s: the CRM applied the updates %v, want %v (stream order, each once)", id, applied[id], want)
		}
	}
}

// checkConsumers waits until every command consumer has nothing pending
// and nothing waiting for an ack.
func (w *world) checkConsumers() {
	w.t.Helper()
	err := retry(time.Minute, time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := w.js.Stream(ctx, streams.Commands)
		if err != nil {
			return err
		}
		names := s.ConsumerNames(ctx)
		for name := range names.Name() {
			c, err := s.Consumer(ctx, name)
			if err != nil {
				return err
			}
			info, err := c.Info(ctx)
			if err != nil {
				return err
			}
			if info.NumPending != 0 || info.NumAckPending != 0 {
				return fmt.Errorf("consumer %s: %d pending, %d waiting for an ack", name, info.NumPending, info.NumAckPending)
			}
		}
		return names.Err()
	})
	if err != nil {
		w.t.Error(err)
	}
}

// checkEvents makes one more change out of band, waits for its event, and
// then checks every customer's events against the CRM.
func (w *world) checkEvents() {
	w.t.Helper()
	marker, err := w.sim.CreateCustomer(crm.CreateParams{FirstName: "Marker", Phone: "6600000000"})
	if err != nil {
		w.t.Fatal(err)
	}
	err = retry(2*time.Minute, 500*time.Millisecond, func() error {
		if natstest.Count(w.js, streams.Events, w.subj.Changed(marker.ID)) == 0 {
			return errors.New("no event of the last change")
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	// Made after the load, and alone: exactly one event.
	if n := natstest.Count(w.js, streams.Events, w.subj.Changed(marker.ID)); n != 1 {
		w.t.Errorf("%d events for one change made after the load, want 1", n)
	}
	// Deletes are found by the complete export (BRIDGE_RECONCILE_INTERVAL).
	if err := retry(time.Minute, 2*time.Second, w.compareEvents); err != nil {
		w.t.Error(err)
	}
}

func (w *world) compareEvents() error {
	// changes counts each customer's changes; moved holds the customers
	// changed (not just touched) since the poller recorded the existing
	// ones: each must have an event.
	changes, moved := map[string]int{}, map[string]bool{}
	for _, ch := range w.sim.Changes() {
		changes[ch.CustomerID]++
		if ch.Seq > w.seeded && ch.Op != crmsim.ChangeTouch {
			moved[ch.CustomerID] = true
		}
	}
	// A truncated event (too large for one NATS message) has no before
	// and after: the chain is checked around it.
	type seen struct {
		n     int
		last  poller.Event
		after string
	}
	byCustomer := map[string]*seen{}
	ceIDs := map[string]bool{}
	var errs []error
	for _, m := range natstest.Messages(w.t, w.js, streams.Events, w.subj.AllChanged()) {
		var e poller.Event
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			return fmt.Errorf("event %s: %v", m.Data(), err)
		}
		id := m.Headers().Get("ce-id")
		if ceIDs[id] {
			errs = append(errs, fmt.Errorf("ce-id %s twice (customer %s)", id, e.CustomerID))
		}
		ceIDs[id] = true
		s := byCustomer[e.CustomerID]
		if s == nil {
			s = &seen{}
			byCustomer[e.CustomerID] = s
		} else if before := normal(e.Before); !e.Truncated && !s.last.Truncated && before != s.after {
			errs = append(errs, fmt.Errorf("customer %s: %s event's before %s is not the previous after %s", e.CustomerID, e.Change, before, s.after))
		}
		s.n++
		s.last, s.after = e, normal(e.After)
	}
	for id, s := range byCustomer {
		if s.n > changes[id] {
			errs = append(errs, fmt.Errorf("customer %s: %d events for %d changes in the CRM", id, s.n, changes[id]))
		}
		if _, ok := w.sim.Customer(id); !ok && s.last.Change != poller.Deleted {
			errs = append(errs, fmt.Errorf("customer %s is gone from the CRM; its last event is %s", id, s.last.Change))
		}
	}
	for _, c := range w.sim.Customers() {
		want, _ := json.Marshal(c)
		s := byCustomer[c.ID]
		switch {
		case s == nil && moved[c.ID]:
			errs = append(errs, fmt.Errorf("customer %s: changed, but no event", c.ID))
		case s != nil && !s.last.Truncated && s.after != normal(want):
			errs = append(errs, fmt.Errorf("customer %s: last event %s has %s, the CRM %s", c.ID, s.last.Change, s.after, normal(want)))
		}
	}
	if len(errs) > 10 {
		errs = append(errs[:10], fmt.Errorf("... %d problems in all", len(errs)))
	}
	return errors.Join(errs...)
}

// normal returns a customer's JSON without what changes on a touch
// (updatedAt, updatedBy, updatedVia), which makes no event; "" for none.
func normal(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var c crm.Customer
	if err := json.Unmarshal(raw, &c); err != nil {
		return "invalid: " + err.Error()
	}
	c.UpdatedAt, c.UpdatedBy, c.UpdatedVia = "", "", ""
	b, _ := json.Marshal(c)
	return string(b)
}

// retry calls f every interval until it returns nil, for at most d, and
// returns its last error.
func retry(d, every time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	tk := time.NewTicker(every)
	defer tk.Stop()
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		<-tk.C
	}
}
