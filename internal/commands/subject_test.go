package commands

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/streams"
)

// A subject that names no op never reaches the bridge through
// CRM_COMMANDS (TestWrongSubjectRefusedAtPublish). Should one be delivered
// all the same (here from a stream of the test's), its result and dead
// letter still match their schemas: op "unknown", no customerId, rejected
// with VALIDATION; r.results and r.deadLetters check the schemas.
func TestUnparsableSubjectResult(t *testing.T) {
	r := newRig(t, crmsim.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.js.CreateStream(ctx, jetstream.StreamConfig{Name: "ODD", Subjects: []string{"crm.customer.merge.>", "acme.customer.>"}}); err != nil {
		t.Fatal(err)
	}
	subjects := map[string]string{"odd-1": "crm.customer.merge.x", "odd-2": "acme.customer.update.cus_1"}
	for id, subject := range subjects {
		m := nats.NewMsg(subject)
		m.Header.Set(nats.MsgIdHdr, id)
		m.Data = []byte(`{"email":"a@b.co"}`)
		if _, err := r.js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	client, err := crm.New(crm.Config{BaseURL: r.sim.URL(), APIKey: "key", OrgID: "org", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	p, err := New(r.nc, r.js, client, r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := r.js.CreateOrUpdateConsumer(ctx, "ODD", jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(len(subjects), jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for msg := range batch.Messages() {
		if !p.handle(ctx, msg, nil, nil, nil) {
			t.Fatalf("handle %s: got false, want the command finished", msg.Subject())
		}
	}
	results := r.waitResults(len(subjects), time.Minute)
	for id, subject := range subjects {
		res := results[id]
		if res.Op != streams.OpUnknown || res.CustomerID != "" || res.Status != StatusRejected || res.Error == nil ||
			res.Error.Code != CodeValidation || !strings.Contains(res.Error.Message, subject) {
			t.Errorf("%s: got %+v, want op unknown, no customer, rejected with VALIDATION naming %s", subject, res, subject)
		}
	}
	if n := len(r.deadLetters()); n != len(subjects) {
		t.Errorf("got %d dead letters, want %d", n, len(subjects))
	}
	if n := len(r.sim.Changes()); n != 0 {
		t.Errorf("the CRM saw %d changes, want none", n)
	}
}
