package client

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
)

// world starts NATS, with the bridge's streams unless bare, and returns a
// Config for it and a connection.
func world(t *testing.T, bare bool) (Config, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	srv := natstest.Start(t, embedded.Options{StoreDir: t.TempDir()})
	nc, js := natstest.Connect(t, srv)
	if !bare {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := streams.Ensure(ctx, js, streams.Config{Prefix: "crm", Replicas: 1, Partitions: streams.CommandPartitions}); err != nil {
			t.Fatal(err)
		}
	}
	return Config{URL: srv.ClientURL(), Prefix: "crm", Timeout: 5 * time.Second}, nc, js
}

func store(t *testing.T, js jetstream.JetStream, m *nats.Msg) {
	t.Helper()
	if _, err := js.PublishMsg(context.Background(), m); err != nil {
		t.Fatalf("publish %s: %v", m.Subject, err)
	}
}

func result(id, customer string) *nats.Msg {
	body, _ := json.Marshal(commands.Result{CommandID: id, Op: "update", Status: commands.StatusApplied, CustomerID: customer, Attempts: 1})
	m := nats.NewMsg("crm.customer.result")
	m.Header.Set(commands.HeaderCommandID, id)
	m.Data = body
	return m
}

// A command published again with the same id is dropped by JetStream:
// Publish shows the first one's result, from CRM_EVENTS.
func TestPublishDuplicateShowsTheStoredResult(t *testing.T) {
	c, nc, js := world(t, false)
	m := nats.NewMsg("crm.customer.update.cus_1")
	m.Header.Set(nats.MsgIdHdr, "c-1")
	store(t, js, m)
	store(t, js, result("c-0", "cus_0"))
	store(t, js, result("c-1", "cus_1"))
	var notes strings.Builder
	data, err := c.Publish(context.Background(), nc, js, Command{Op: "update", CustomerID: "cus_1", ID: "c-1", Body: []byte(`{}`)}, &notes)
	if err != nil || resultCommandID(nil, data) != "c-1" {
		t.Fatalf("got %s, %v; want c-1's result", data, err)
	}
	if !strings.Contains(notes.String(), "command c-1 was already published") {
		t.Errorf("notes: got %q", notes.String())
	}
}

// A command without an id is published with a fresh one, as its
// Nats-Msg-Id, and its result is awaited under it.
func TestPublishWithoutIDGetsOne(t *testing.T) {
	c, nc, js := world(t, false)
	sub, err := nc.Subscribe("crm.customer.create", func(m *nats.Msg) {
		res := result(m.Header.Get(nats.MsgIdHdr), "cus_1")
		res.Subject = m.Header.Get(commands.HeaderReplyTo)
		_ = nc.PublishMsg(res)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	data, err := c.Publish(context.Background(), nc, js, Command{Op: "create", Body: []byte(`{}`)}, &strings.Builder{})
	if id := resultCommandID(nil, data); err != nil || len(id) < 16 {
		t.Errorf("got %s, %v; want a result with a fresh command id", data, err)
	}
}

func TestPublishWithoutStream(t *testing.T) {
	c, nc, js := world(t, true)
	_, err := c.Publish(context.Background(), nc, js, Command{Op: "create", ID: "c-1"}, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "no stream stores it") {
		t.Errorf("got %v, want an error that says no stream stores it", err)
	}
}

func TestQuery(t *testing.T) {
	c, nc, _ := world(t, true)
	if _, err := c.Query(context.Background(), nc, "crm.customer.get.x", nil); err == nil || !strings.Contains(err.Error(), "no bridge answers crm.customer.get.x") {
		t.Errorf("got %v, want no bridge answers", err)
	}
	svc, err := micro.AddService(nc, micro.Config{Name: "test", Version: "0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop() })
	err = svc.AddEndpoint("get", micro.HandlerFunc(func(r micro.Request) {
		if string(r.Data()) == "ok" {
			_ = r.Respond([]byte(`{"customer":{}}`))
			return
		}
		_ = r.Error("404", "NOT_FOUND", []byte(`{"error":{"code":"NOT_FOUND","message":"no customer x"}}`))
	}), micro.WithEndpointSubject("crm.customer.get.x"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Query(context.Background(), nc, "crm.customer.get.x", []byte("ok")); err != nil || string(got) != `{"customer":{}}` {
		t.Errorf("got %s, %v; want the reply", got, err)
	}
	_, err = c.Query(context.Background(), nc, "crm.customer.get.x", nil)
	var se *ServiceError
	if !errors.As(err, &se) || se.Status != "404" || se.Code != "NOT_FOUND" || se.Message != "no customer x" {
		t.Errorf("got %v, want the service's error answer", err)
	}
	// Its text is fit for a terminal: the service's code and message as
	// they came, less their control characters.
	se = &ServiceError{Status: "400", Code: "BAD\x1b[2J", Message: "no\ncustomer"}
	if got, want := se.Error(), "BAD?[2J (400): no?customer"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A watch of one customer gets its events and the results of commands
// for it, decoded, and nothing of the others.
func TestWatchFollowsOneCustomer(t *testing.T) {
	c, _, js := world(t, false)
	ev := nats.NewMsg("crm.customer.changed.cus_1")
	ev.Header.Set("ce-id", "e-1")
	ev.Data = []byte(`{"customerId":"cus_1","change":"updated","fields":["email"]}`)
	store(t, js, nats.NewMsg("crm.customer.changed.cus_2"))
	store(t, js, result("c-2", "cus_2"))
	store(t, js, ev)
	store(t, js, result("c-1", "cus_1"))
	var got []Message
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var filters []string
	err := Watch{All: true, Customer: "cus_1"}.Follow(ctx, js, c.Subjects(), func(f []string) { filters = f }, func(m Message) (bool, error) {
		got = append(got, m)
		return len(got) < 2, nil
	})
	if err != nil || len(got) != 2 {
		t.Fatalf("got %d messages, %v; want 2", len(got), err)
	}
	if strings.Join(filters, " ") != "crm.customer.changed.cus_1 crm.customer.result" {
		t.Errorf("filters: got %v", filters)
	}
	if e := got[0]; e.Kind != KindEvent || e.Event.Change != "updated" || e.Event.CustomerID != "cus_1" || e.Seq != 3 || e.Err != nil {
		t.Errorf("event: got %+v", e)
	}
	if r := got[1]; r.Kind != KindResult || r.Result.CommandID != "c-1" || r.Err != nil {
		t.Errorf("result: got %+v", r)
	}
	var line map[string]any
	if err := json.Unmarshal(got[0].JSON(), &line); err != nil || line["type"] != "event" || line["seq"] != float64(3) || line["ceId"] != "e-1" || line["change"] != "updated" {
		t.Errorf("JSON line: got %v, %v", line, err)
	}
}

func TestWhoami(t *testing.T) {
	_, nc, _ := world(t, true)
	if o := Whoami(nc, 5*time.Second); o.NATSAccount != "$G" || o.OSUser == "" || o.Host == "" {
		t.Errorf("got %+v, want the server's default account", o)
	}
}

func TestOperatorLogAttrs(t *testing.T) {
	o := Operator{OSUser: "ada", Host: "h1", NATSUser: "", NATSAccount: "$G"}
	want := []any{"os_user", "ada", "host", "h1", "nats_user", "", "nats_account", "$G"}
	if got := o.LogAttrs(); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestRequests(t *testing.T) {
	c := Config{Prefix: "crm"}
	tests := []struct {
		name              string
		req               func() (string, []byte)
		wantSubject, want string
	}{
		{"get", func() (string, []byte) { return c.GetRequest("a.b", false) }, "crm.customer.get.a%2Eb", ""},
		{"get fresh", func() (string, []byte) { return c.GetRequest("cus_1", true) }, "crm.customer.get.cus_1", `{"fresh":true}`},
		{"find by phone", func() (string, []byte) { return c.FindRequest("555", "") }, "crm.customer.find", `{"phone":"555"}`},
		{"find by email", func() (string, []byte) { return c.FindRequest("", "a@b") }, "crm.customer.find", `{"email":"a@b"}`},
		{"list", func() (string, []byte) { return c.ListRequest(5, "x") }, "crm.customer.list", `{"after":"x","limit":5}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if subject, body := tt.req(); subject != tt.wantSubject || string(body) != tt.want {
				t.Errorf("got %s %s, want %s %s", subject, body, tt.wantSubject, tt.want)
			}
		})
	}
}
