package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/streams"
)

// Done when 1: every valid command is applied once, with one result, under
// 30% 5xx and 20% 429 faults.
func TestEveryValidCommandAppliedOnceUnderFaults(t *testing.T) {
	r := newRig(t, crmsim.Options{RandSeed: 1})
	if err := r.sim.SetFaults(crmsim.Faults{Seed: 7, ErrorRate: 0.3, RateLimitRate: 0.2, RetryAfter: time.Second}); err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 20)
	for i := range ids {
		c, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "Seed", Phone: fmt.Sprintf("555%06d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = c.ID
	}
	r.startProcessor(r.cfg)

	want := map[string]string{} // command id -> op
	for i := range 40 {
		id := fmt.Sprintf("create-%d", i)
		r.publish(r.subj.Create(), id, createBody(i))
		want[id] = "create"
	}
	for i, cid := range ids {
		id := fmt.Sprintf("update-%d", i)
		r.publish(r.subj.Update(cid), id, fmt.Appendf(nil, `{"email":"u%d@example.com","cityId":null}`, i))
		want[id] = "update"
	}
	for i, cid := range ids[:10] {
		id := fmt.Sprintf("delete-%d", i)
		r.publish(r.subj.Delete(cid), id, nil)
		want[id] = "delete"
	}

	results := r.waitResults(len(want), 2*time.Minute)
	for id, op := range want {
		res, ok := results[id]
		if !ok {
			t.Errorf("%s: no result", id)
			continue
		}
		if res.Status != StatusApplied || res.Op != op || res.CustomerID == "" || res.Attempts < 1 {
			t.Errorf("%s: got %+v, want applied %s with a customer id", id, res, op)
		}
	}
	if n := len(results); n != len(want) {
		t.Errorf("got %d results, want %d", n, len(want))
	}
	if dl := r.deadLetters(); len(dl) != 0 {
		t.Errorf("got %d dead letters, want none", len(dl))
	}
	// Once each: the simulator's own log of what it applied.
	applied := map[crmsim.ChangeOp]int{}
	for _, c := range r.sim.Changes() {
		if c.Via == "api" {
			applied[c.Op]++
		}
	}
	if applied[crmsim.ChangeCreate] != 40 || applied[crmsim.ChangeDelete] != 10 || applied[crmsim.ChangeUpdate] != 20 {
		t.Errorf("the CRM applied %v, want 40 creates, 20 updates, 10 deletes", applied)
	}
	var faults int64
	for k, n := range r.sim.Stats() {
		if k.Status == 503 || k.Status == 429 {
			faults += n
		}
	}
	if faults == 0 {
		t.Error("no fault was injected")
	}
}

// Done when 2: each invalid input is rejected with the right fields and
// dead-lettered, and the processor keeps going.
func TestInvalidInputRejectedAndDeadLettered(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	r.startProcessor(r.cfg)
	manyFields := strings.Builder{}
	manyFields.WriteString(`{"firstName":"A","phone":"5550100"`)
	for i := range 2000 {
		fmt.Fprintf(&manyFields, `,"f%d":1`, i)
	}
	manyFields.WriteString("}")
	huge := make([]byte, 10<<20)
	for i := range huge {
		huge[i] = 'x'
	}
	tests := []struct {
		name, subject string
		body          []byte
		message       string // in error.message
		fields        []string
		customerID    string // when the subject names one
	}{
		{name: "malformed JSON", subject: r.subj.Create(), body: []byte(`{"firstName":"A",`), message: "JSON"},
		{name: "binary garbage", subject: r.subj.Create(), body: []byte{0xff, 0xfe, 0x00, 0x01, 0x80}, message: ""},
		{name: "10 MB body", subject: r.subj.Create(), body: huge, message: "limit"},
		{name: "undecodable id in the subject", subject: "crm.customer.update.%zz", body: []byte(`{"email":"a@b.c"}`), message: "subject", customerID: "%zz"},
		{name: "lower-case escape in the subject", subject: "crm.customer.update.a%2eb", body: []byte(`{"email":"a@b.c"}`),
			message: "publish to crm.customer.update.a%2Eb", customerID: "a%2eb"},
		{name: "needless escape in the subject", subject: "crm.customer.delete.cus%5F1", message: "publish to crm.customer.delete.cus_1", customerID: "cus%5F1"},
		{name: "huge number of fields", subject: r.subj.Create(), body: []byte(manyFields.String()), fields: []string{"f0"}},
		{name: "bad fields", subject: r.subj.Create(), body: []byte(`{"firstName":"","phone":"12","gender":"X","birthDate":"2023-02-29","email":"nope","shoeSize":44}`),
			fields: []string{"birthDate", "email", "firstName", "gender", "phone", "shoeSize"}},
		{name: "null where not allowed", subject: r.subj.Update("cus_x"), body: []byte(`{"email":null}`), fields: []string{"email"}},
		{name: "update without fields", subject: r.subj.Update("cus_x"), body: []byte(`{}`), message: "field"},
		{name: "delete with a body", subject: r.subj.Delete("cus_x"), body: []byte(`{"why":"because"}`), message: ""},
	}
	for i, tt := range tests {
		r.publish(tt.subject, fmt.Sprintf("bad-%d", i), tt.body)
	}
	// One valid command after them all: the processor keeps going.
	r.publish(r.subj.Create(), "good", createBody(1))

	results := r.waitResults(len(tests)+1, time.Minute)
	if res := results["good"]; res.Status != StatusApplied {
		t.Errorf("valid command after the bad ones: got %+v, want applied", res)
	}
	letters := map[string]nats.Header{}
	for _, m := range r.deadLetters() {
		letters[m.Headers().Get(HeaderCommandID)] = m.Headers()
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("bad-%d", i)
			res := results[id]
			if res.Status != StatusRejected || res.Error == nil || res.Error.Code != CodeValidation || res.Attempts != 0 {
				t.Fatalf("got %+v, want rejected VALIDATION with 0 attempts", res)
			}
			if !strings.Contains(res.Error.Message, tt.message) {
				t.Errorf("got message %q, want it to mention %q", res.Error.Message, tt.message)
			}
			if tt.customerID != "" && res.CustomerID != tt.customerID {
				t.Errorf("got customerId %q, want %q", res.CustomerID, tt.customerID)
			}
			var fields []string
			for _, f := range res.Error.Fields {
				if f.Field != "" && !slices.Contains(fields, f.Field) {
					fields = append(fields, f.Field)
				}
			}
			for _, f := range tt.fields {
				if !slices.Contains(fields, f) {
					t.Errorf("got fields %v, want %s among them", fields, f)
				}
			}
			if len(tt.fields) == 0 && len(res.Error.Fields) != 0 {
				t.Errorf("got fields %v, want none (the body as a whole is wrong)", res.Error.Fields)
			}
			h, ok := letters[id]
			if !ok {
				t.Fatal("no dead letter")
			}
			if h.Get(HeaderDlqStatus) != StatusRejected || h.Get(HeaderOriginalSubject) != tt.subject ||
				h.Get(nats.MsgIdHdr) != "dlq-"+id || !strings.HasPrefix(h.Get(HeaderDlqReason), CodeValidation) {
				t.Errorf("dead letter headers %v", h)
			}
		})
	}
	if n := len(r.sim.Changes()); n != 1 {
		t.Errorf("the CRM saw %d changes, want only the valid create", n)
	}
}

// A subject that is not a command subject at all never reaches the bridge:
// JetStream refuses the publish at once, so the publisher knows.
func TestWrongSubjectRefusedAtPublish(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, subject := range []string{"crm.customer.update.a.b", "crm.customer.update", "crm.customer.merge.x"} {
		if _, err := r.js.Publish(ctx, subject, []byte(`{}`)); err == nil {
			t.Errorf("publish to %s: got no error, want JetStream to refuse it", subject)
		}
	}
}

// Done when 3: 20 creates whose first answers are dropped after the CRM
// applied them make exactly 20 customers and 20 applied results.
func TestCreatesWithLostAnswersMakeOneCustomerEach(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	if err := r.sim.SetFaults(crmsim.Faults{DropAfterApplyRate: 1}); err != nil {
		t.Fatal(err)
	}
	r.startProcessor(r.cfg)
	for i := range 20 {
		r.publish(r.subj.Create(), fmt.Sprintf("create-%d", i), createBody(i))
	}
	results := r.waitResults(20, time.Minute)
	made := map[string]bool{}
	for _, c := range r.sim.Changes() {
		if c.Op == crmsim.ChangeCreate {
			made[c.CustomerID] = true
		}
	}
	if len(made) != 20 || r.sim.Len() != 20 {
		t.Fatalf("the CRM made %d customers (holds %d), want 20", len(made), r.sim.Len())
	}
	for i := range 20 {
		res := results[fmt.Sprintf("create-%d", i)]
		if res.Status != StatusApplied || !made[res.CustomerID] || res.Attempts < 2 {
			t.Errorf("create-%d: got %+v, want applied with the id of the customer the first attempt made", i, res)
		}
	}
}

// Done when 6: a 15 s CRM outage during 100 commands: all applied
// afterwards, none failed, nothing dead-lettered; meanwhile the processor
// says it is not ready.
func TestOutageDelaysButLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("15 s outage")
	}
	r := newRig(t, crmsim.Options{})
	cfg := r.cfg
	cfg.MaxBackoff = time.Second
	w := r.startProcessor(cfg)
	for i := range 50 {
		r.publish(r.subj.Create(), fmt.Sprintf("before-%d", i), createBody(i))
	}
	r.sim.Outage()
	outageEnds := time.Now().Add(15 * time.Second)
	recovered := make(chan error, 1)
	time.AfterFunc(15*time.Second, func() { recovered <- r.sim.Recover() })
	for i := range 50 {
		r.publish(r.subj.Create(), fmt.Sprintf("during-%d", i), createBody(100+i))
	}
	eventually.True(t, 10*time.Second, "processor still ready during the outage", func() bool { return w.p.Ready() != nil })
	if err := w.p.Ready(); !strings.Contains(err.Error(), "CRM unavailable") {
		t.Errorf("got Ready %v, want it to say the CRM is unavailable", err)
	}
	if time.Now().After(outageEnds) {
		t.Fatal("the outage ended before it was seen")
	}
	if err := <-recovered; err != nil {
		t.Fatal(err)
	}
	results := r.waitResults(100, 2*time.Minute)
	for id, res := range results {
		if res.Status != StatusApplied {
			t.Errorf("%s: got %+v, want applied", id, res)
		}
	}
	if dl := r.deadLetters(); len(dl) != 0 {
		t.Errorf("got %d dead letters, want none", len(dl))
	}
	eventually.True(t, 5*time.Second, "processor not ready after the outage", func() bool { return w.p.Ready() == nil })
}

// Done when 7: a 401 from the CRM stops the consumer, readiness fails, and
// nothing is dead-lettered; once the CRM takes the key again, the commands
// are applied.
func TestUnauthorizedStopsWithoutDeadLetters(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	if err := r.sim.SetFaults(crmsim.Faults{Unauthorized: true}); err != nil {
		t.Fatal(err)
	}
	w := r.startProcessor(r.cfg)
	for i := range 10 {
		r.publish(r.subj.Create(), fmt.Sprintf("create-%d", i), createBody(i))
	}
	eventually.True(t, 10*time.Second, "processor ready despite the 401", func() bool { return w.p.Ready() != nil })
	if err := w.p.Ready(); !strings.Contains(err.Error(), "credentials") {
		t.Errorf("got Ready %v, want it to name the credentials", err)
	}
	// The processor holds its commands: nothing ends.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := r.js.Consumer(ctx, "CRM_COMMANDS", "commands-create")
	if err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 5*time.Second, "commands not held", func() bool {
		info, err := c.Info(ctx)
		return err == nil && info.NumAckPending > 0
	})
	if got := r.results(); len(got) != 0 {
		t.Errorf("got %d results while unauthorized, want none", len(got))
	}
	if dl := r.deadLetters(); len(dl) != 0 {
		t.Errorf("got %d dead letters, want none", len(dl))
	}

	if err := r.sim.SetFaults(crmsim.Faults{}); err != nil {
		t.Fatal(err)
	}
	results := r.waitResults(10, 30*time.Second)
	for id, res := range results {
		if res.Status != StatusApplied {
			t.Errorf("%s: got %+v, want applied", id, res)
		}
	}
	eventually.True(t, 5*time.Second, "processor not ready again", func() bool { return w.p.Ready() == nil })
}

// Reply-To gets the result too; a command without Nats-Msg-Id is known by
// its stream sequence.
func TestReplyToAndSequenceID(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	r.startProcessor(r.cfg)
	inbox := nats.NewInbox()
	sub, err := r.nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(r.subj.Create())
	m.Data = createBody(1)
	m.Header.Set(HeaderReplyTo, inbox)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := r.js.PublishMsg(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := sub.NextMsg(30 * time.Second)
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	res := checkResult(t, reply.Data)
	want := fmt.Sprint(ack.Sequence)
	if res.CommandID != want || res.Status != StatusApplied || reply.Header.Get(HeaderCommandID) != want {
		t.Errorf("got %+v (Command-Id %q), want applied as command %s", res, reply.Header.Get(HeaderCommandID), want)
	}
}

// Two processors share the partitions; one stops gracefully midway, hands
// its partitions and the commands it held to the other, and every
// customer's updates still land in publish order.
func TestGracefulStopHandsOverInOrder(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	if err := r.sim.SetFaults(crmsim.Faults{Latency: 5 * time.Millisecond, ErrorRate: 0.1, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	customers := make([]string, 12)
	for i := range customers {
		c, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "O", Phone: fmt.Sprintf("444%06d", i)})
		if err != nil {
			t.Fatal(err)
		}
		customers[i] = c.ID
	}
	cfg := r.cfg
	cfg.LeaseTTL = 6 * time.Second
	a := r.startProcessor(cfg)
	b := r.startProcessor(cfg)
	eventually.True(t, 10*time.Second, "the two processors did not share the partitions", func() bool {
		na, nb := a.p.owner.heldCount(), b.p.owner.heldCount()
		return na > 0 && nb > 0 && na+nb == 16
	})
	const rounds = 25
	for k := range rounds {
		for i, id := range customers {
			r.publish(r.subj.Update(id), fmt.Sprintf("u-%d-%d", i, k), fmt.Appendf(nil, `{"number":"%d"}`, k))
		}
	}
	eventually.True(t, time.Minute, "no progress", func() bool { return r.resultCount() >= 60 })
	a.stop(t)
	eventually.True(t, 30*time.Second, "the other processor did not take every partition", func() bool { return b.p.owner.heldCount() == 16 })
	results := r.waitResults(rounds*len(customers), 2*time.Minute)
	for id, res := range results {
		if res.Status != StatusApplied {
			t.Errorf("%s: got %+v, want applied", id, res)
		}
	}
	seen := map[string][]string{}
	for _, c := range r.sim.Changes() {
		if c.Op != crmsim.ChangeUpdate {
			continue
		}
		var p struct{ Number string }
		_ = json.Unmarshal(c.Params, &p)
		seen[c.CustomerID] = append(seen[c.CustomerID], p.Number)
	}
	for _, id := range customers {
		got := seen[id]
		if len(got) != rounds {
			t.Errorf("customer %s: %d updates applied, want %d", id, len(got), rounds)
			continue
		}
		for k, n := range got {
			if n != fmt.Sprint(k) {
				t.Errorf("customer %s: applied in the order %v", id, got)
				break
			}
		}
	}
}

// A rejected command published with JetStream's own publish conditions
// (jetstream.WithExpectStream sets Nats-Expected-Stream) still gets its
// result and dead letter: those headers are meant for CRM_COMMANDS and are
// not copied to the dead letter, which CRM_DLQ would otherwise refuse.
func TestRejectedCommandWithJetStreamHeaders(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	r.startProcessor(r.cfg)
	m := nats.NewMsg(r.subj.Create())
	m.Header.Set(nats.MsgIdHdr, "bad-js")
	m.Header.Set("X-Trace", "t-1")
	m.Data = []byte(`{"firstName":"A"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := r.js.PublishMsg(ctx, m, jetstream.WithExpectStream(streams.Commands), jetstream.WithExpectLastSequence(0)); err != nil {
		t.Fatal(err)
	}
	if res := r.waitResults(1, time.Minute)["bad-js"]; res.Status != StatusRejected {
		t.Fatalf("got %+v, want rejected", res)
	}
	letters := r.deadLetters()
	if len(letters) != 1 {
		t.Fatalf("got %d dead letters, want 1", len(letters))
	}
	h := letters[0].Headers()
	if h.Get("X-Trace") != "t-1" || h.Get("Nats-Expected-Stream") != "" || h.Get("Nats-Expected-Last-Sequence") != "" {
		t.Errorf("dead letter headers %v: want the command's own, without JetStream's conditions", h)
	}
}

// A delivery that never reaches the process holding the partition (lost
// with its connection when a NATS server dies, or taken by a pull that a
// former holder left behind; here, a pull request of the test's that it
// never answers) is redelivered after its ack wait. The process sees the
// gap in the consumer's sequence and holds the partition back until then,
// so the customer's later commands are not applied before it.
func TestLostDeliveryHeldBack(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	c, err := r.sim.CreateCustomer(crm.CreateParams{FirstName: "O", Phone: "4440000001"})
	if err != nil {
		t.Fatal(err)
	}
	// A first processor makes the consumers, and stops.
	r.startProcessor(r.cfg).stop(t)

	// One pull request for one message on every partition, queued before
	// the processor's own: the next command of each partition goes to it,
	// and is never acknowledged.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := r.js.Stream(ctx, streams.Commands)
	if err != nil {
		t.Fatal(err)
	}
	var lost []*nats.Subscription
	names := s.ConsumerNames(ctx)
	for name := range names.Name() {
		if name == streams.CreateConsumer {
			continue
		}
		inbox := nats.NewInbox()
		sub, err := r.nc.SubscribeSync(inbox)
		if err != nil {
			t.Fatal(err)
		}
		lost = append(lost, sub)
		req := `{"batch":1,"expires":60000000000}`
		if err := r.nc.PublishRequest("$JS.API.CONSUMER.MSG.NEXT."+streams.Commands+"."+name, inbox, []byte(req)); err != nil {
			t.Fatal(err)
		}
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.nc.Flush(); err != nil {
		t.Fatal(err)
	}

	w := r.startProcessor(r.cfg)
	eventually.True(t, 10*time.Second, "the processor to pull from every partition", func() bool {
		if w.p.owner.heldCount() != 16 {
			return false
		}
		for name := range s.ConsumerNames(ctx).Name() {
			cons, err := s.Consumer(ctx, name)
			if err != nil {
				return false
			}
			info, err := cons.Info(ctx)
			if err != nil || name != streams.CreateConsumer && info.NumWaiting < 2 {
				return false
			}
		}
		return true
	})
	for k := range 3 {
		r.publish(r.subj.Update(c.ID), fmt.Sprintf("u-%d", k), fmt.Appendf(nil, `{"number":"%d"}`, k))
	}
	taken := eventually.Within(5*time.Second, func() bool {
		for _, sub := range lost {
			if n, _, _ := sub.Pending(); n > 0 {
				return true
			}
		}
		return false
	})
	if !taken {
		t.Fatal("the first update did not go to the pull request that never answers; nothing was shown")
	}
	for id, res := range r.waitResults(3, time.Minute) {
		if res.Status != StatusApplied {
			t.Errorf("%s: got %+v, want applied", id, res)
		}
	}
	var order []string
	for _, ch := range r.sim.Changes() {
		if ch.Op == crmsim.ChangeUpdate && ch.CustomerID == c.ID {
			var p struct{ Number string }
			_ = json.Unmarshal(ch.Params, &p)
			order = append(order, p.Number)
		}
	}
	if fmt.Sprint(order) != "[0 1 2]" {
		t.Errorf("the CRM applied the updates in the order %v, want [0 1 2]", order)
	}
}
