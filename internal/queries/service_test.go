package queries

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/model"
)

func TestGetFindList(t *testing.T) {
	w := newWorld(t, embedded.Options{})
	asOf := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
	w.put(t, "cus_2", record("cus_2", "Ada", "(555) 0100", "Ada@Example.com"))
	w.put(t, "cus_1", record("cus_1", "Bob", "5550101", ""))
	w.put(t, "a.b c", record("a.b c", "Odd", "5550100", "odd@example.com"))
	w.fill(t, asOf)
	reg := prometheus.NewRegistry()
	w.serve(t, Config{Metrics: reg})

	a := w.ask(t, "crm.customer.get.cus_2", "").ok(t)
	if got := str(t, a.body["source"]); got != "model" {
		t.Errorf("get source: got %q, want model", got)
	}
	if got := str(t, a.body["asOf"]); got != asOf.Format(time.RFC3339Nano) {
		t.Errorf("get asOf: got %q, want %s", got, asOf.Format(time.RFC3339Nano))
	}
	if got, want := string(a.body["customer"]), string(record("cus_2", "Ada", "(555) 0100", "Ada@Example.com")); got != want {
		t.Errorf("get customer: got %s, want the model's record %s", got, want)
	}
	w.ask(t, "crm.customer.get.a%2Eb%20c", `{"fresh": false}`).ok(t)

	tests := []struct {
		name, subject, body string
		want                []string
		next                bool
	}{
		{name: "find phone digits", subject: "crm.customer.find", body: `{"phone":"555-0100"}`, want: []string{"a.b c", "cus_2"}},
		{name: "find email any case", subject: "crm.customer.find", body: `{"email":"ADA@example.COM"}`, want: []string{"cus_2"}},
		{name: "find none", subject: "crm.customer.find", body: `{"email":"nobody@example.com"}`, want: []string{}},
		{name: "list all", subject: "crm.customer.list", body: ``, want: []string{"a.b c", "cus_1", "cus_2"}},
		{name: "list page 1", subject: "crm.customer.list", body: `{"limit":2}`, want: []string{"a.b c", "cus_1"}, next: true},
		{name: "list page 2", subject: "crm.customer.list", body: `{"limit":2,"after":"cus_1"}`, want: []string{"cus_2"}},
		{name: "list after an encoded key", subject: "crm.customer.list", body: `{"after":"=YS5iIGM"}`, want: []string{"cus_1", "cus_2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := w.ask(t, tt.subject, tt.body).ok(t)
			if got := a.ids(t); !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if tt.subject == "crm.customer.list" {
				next := str(t, a.body["next"])
				if (next != "") != tt.next {
					t.Errorf("got next %q, want one: %v", next, tt.next)
				}
			}
		})
	}
	waitCounter(t, reg, "get", "ok", 2)
	waitCounter(t, reg, "list", "ok", 4)
}

func TestErrorsAnswered(t *testing.T) {
	w := newWorld(t, embedded.Options{})
	w.put(t, "cus_1", record("cus_1", "Ada", "5550100", ""))
	reg := prometheus.NewRegistry()
	w.serve(t, Config{Metrics: reg})
	tests := []struct {
		name, subject, body string
		status, code        string
	}{
		{"not filled get", "crm.customer.get.cus_1", "", "503", "NOT_READY"},
		{"not filled find", "crm.customer.find", `{"phone":"5550100"}`, "503", "NOT_READY"},
		{"not filled list", "crm.customer.list", "", "503", "NOT_READY"},
		{"no resync here", "crm.bridge.resync", "", "503", "NOT_READY"},
		{"fill", "", "", "", ""},
		{"missing", "crm.customer.get.cus_9", "", "404", "NotFound"},
		{"bad token", "crm.customer.get.a%2eb", "", "400", "VALIDATION"},
		{"bad json", "crm.customer.get.cus_1", `{"fresh":`, "400", "VALIDATION"},
		{"unknown field", "crm.customer.get.cus_1", `{"fresh":true,"x":1}`, "400", "VALIDATION"},
		{"not an object", "crm.customer.list", `[1]`, "400", "VALIDATION"},
		{"two values", "crm.customer.list", `{} {}`, "400", "VALIDATION"},
		{"limit 0", "crm.customer.list", `{"limit":0}`, "400", "VALIDATION"},
		{"limit 1001", "crm.customer.list", `{"limit":1001}`, "400", "VALIDATION"},
		{"bad cursor", "crm.customer.list", `{"after":"a.b"}`, "400", "VALIDATION"},
		{"both", "crm.customer.find", `{"phone":"5550100","email":"a@b.c"}`, "400", "VALIDATION"},
		{"neither", "crm.customer.find", `{}`, "400", "VALIDATION"},
		{"phone without digits", "crm.customer.find", `{"phone":"+-"}`, "400", "VALIDATION"},
		{"resync body", "crm.bridge.resync", `{"x":1}`, "400", "VALIDATION"},
	}
	for _, tt := range tests {
		if tt.subject == "" {
			w.fill(t, time.Now())
			eventually.True(t, 10*time.Second, "the status seen filled", func() bool {
				return w.ask(t, "crm.customer.get.cus_1", "").code == ""
			})
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			a := w.ask(t, tt.subject, tt.body)
			if a.code != tt.status || a.errCode != tt.code {
				t.Fatalf("got headers %q %q, want %s %s (%s)", a.code, a.errCode, tt.status, tt.code, a.raw)
			}
			var e struct {
				Code, Message string
			}
			if err := jsonUnmarshal(a.body["error"], &e); err != nil || e.Code != tt.code || e.Message == "" {
				t.Errorf("got body %s, want {\"error\":{\"code\":%q,\"message\":...}}", a.raw, tt.code)
			}
		})
	}
	waitCounter(t, reg, "list", "VALIDATION", 5)
}

func TestIndexFollowsModel(t *testing.T) {
	w := newWorld(t, embedded.Options{})
	w.put(t, "cus_1", record("cus_1", "Ada", "5550100", "ada@example.com"))
	w.fill(t, time.Now())
	s := w.serve(t, Config{})
	find := func(body string) []string { return w.ask(t, "crm.customer.find", body).ok(t).ids(t) }
	w.put(t, "cus_2", record("cus_2", "Bob", "5550199", "bob@example.com")) // put
	eventually.True(t, 10*time.Second, "a new customer found", func() bool { return slices.Equal(find(`{"phone":"5550199"}`), []string{"cus_2"}) })
	w.put(t, "cus_1", record("cus_1", "Ada", "5550111", "ada@new.example")) // phone and email change
	eventually.True(t, 10*time.Second, "the new phone found", func() bool { return slices.Equal(find(`{"phone":"5550111"}`), []string{"cus_1"}) })
	if got := find(`{"phone":"5550100"}`); len(got) != 0 {
		t.Errorf("old phone: got %q, want none", got)
	}
	if got := find(`{"email":"ADA@new.example"}`); !slices.Equal(got, []string{"cus_1"}) {
		t.Errorf("new email: got %q, want cus_1", got)
	}
	if err := w.customers.Delete(ctx(t), "cus_2"); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 10*time.Second, "a deleted customer gone", func() bool { return s.index.Load().Len() == 1 })
	if got := find(`{"email":"bob@example.com"}`); len(got) != 0 {
		t.Errorf("deleted: got %q, want none", got)
	}
	if got := w.ask(t, "crm.customer.list", "").ok(t).ids(t); !slices.Equal(got, []string{"cus_1"}) {
		t.Errorf("list: got %q, want [cus_1]", got)
	}
}

// Two processes serve the service in one queue group: both are found
// through the service protocol, and when one stops the other answers.
func TestTwoProcessesAnswer(t *testing.T) {
	w := newWorld(t, embedded.Options{})
	w.put(t, "cus_1", record("cus_1", "Ada", "5550100", ""))
	w.fill(t, time.Now())
	one := w.serve(t, Config{})
	w.serve(t, Config{})

	ids := map[string]bool{}
	for _, m := range w.collect(t, "$SRV.PING.crm-bridge", 2) {
		var ping micro.Ping
		if err := jsonUnmarshal(m, &ping); err != nil || ping.Name != ServiceName {
			t.Fatalf("$SRV.PING reply %s: %v", m, err)
		}
		ids[ping.ID] = true
	}
	if len(ids) != 2 {
		t.Errorf("$SRV.PING: got %d processes, want 2", len(ids))
	}
	sub, err := w.nc.SubscribeSync(w.nc.NewRespInbox())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.nc.PublishRequest("$SRV.INFO.crm-bridge", sub.Subject, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		m, err := sub.NextMsg(5 * time.Second)
		if err != nil {
			t.Fatalf("$SRV.INFO reply %d: %v", i+1, err)
		}
		var info micro.Info
		if err := jsonUnmarshal(m.Data, &info); err != nil {
			t.Fatal(err)
		}
		var subjects []string
		for _, ep := range info.Endpoints {
			subjects = append(subjects, ep.Subject)
			if ep.QueueGroup != QueueGroup {
				t.Errorf("endpoint %s: got queue group %q, want %q", ep.Name, ep.QueueGroup, QueueGroup)
			}
		}
		want := []string{"crm.customer.get.*", "crm.customer.find", "crm.customer.list", "crm.bridge.resync"}
		if info.Name != ServiceName || strings.Join(subjects, " ") != strings.Join(want, " ") {
			t.Errorf("got %s with %q, want %s with %q", info.Name, subjects, ServiceName, want)
		}
	}
	for range 20 {
		w.ask(t, "crm.customer.get.cus_1", "").ok(t)
	}
	if err := one.Stop(ctx(t)); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		w.ask(t, "crm.customer.get.cus_1", "").ok(t)
	}
}

// Replies stay within the server's maximum payload: list returns fewer
// items, get answers TOO_LARGE for a record whose reply cannot fit.
func TestRepliesWithinMaxPayload(t *testing.T) {
	w := newWorld(t, embedded.Options{MaxPayload: 4096})
	pad := strings.Repeat("x", 300)
	for i := range 30 {
		id := "cus_" + string(rune('a'+i/26)) + string(rune('a'+i%26))
		w.put(t, id, record(id, pad, "555010"+string(rune('0'+i%10)), ""))
	}
	w.fill(t, time.Now())
	w.serve(t, Config{})
	seen, after := 0, ""
	for page := 0; page < 30; page++ {
		a := w.ask(t, "crm.customer.list", `{"limit":1000,"after":"`+after+`"}`).ok(t)
		if len(a.raw) > 4096 {
			t.Fatalf("page %d: got %d bytes, want at most 4096", page, len(a.raw))
		}
		n := len(a.ids(t))
		if n == 0 || n >= 30 {
			t.Fatalf("page %d: got %d items, want fewer than asked and more than none", page, n)
		}
		seen += n
		if after = str(t, a.body["next"]); after == "" {
			break
		}
	}
	if seen != 30 {
		t.Errorf("got %d customers over the pages, want 30", seen)
	}
	rec := record("zz_big", "", "5559999", "")
	rec = record("zz_big", strings.Repeat("y", 4096-30-len(rec)), "5559999", "")
	w.put(t, "zz_big", rec)
	if a := w.ask(t, "crm.customer.get.zz_big", ""); a.code != "500" || a.errCode != CodeTooLarge {
		t.Errorf("get of a record that cannot fit: got %q %q, want 500 %s", a.code, a.errCode, CodeTooLarge)
	}
	// The poller writes a stub for a record too large for one message:
	// get says so, rather than answer the stub as the customer.
	stub, _ := json.Marshal(model.Stub{ID: "zz_huge", Truncated: true, Bytes: 2 << 20, UpdatedAt: "2026-12-02T06:00:00Z"})
	w.put(t, "zz_huge", stub)
	if a := w.ask(t, "crm.customer.get.zz_huge", ""); a.code != "500" || a.errCode != CodeTooLarge || !strings.Contains(string(a.raw), "stub") {
		t.Errorf("get of a stub: got %q %q %s, want 500 %s naming the stub", a.code, a.errCode, a.raw, CodeTooLarge)
	}
}

// resync calls Config.Resync: its start time, or 503 NOT_READY with its
// error.
func TestResync(t *testing.T) {
	w := newWorld(t, embedded.Options{})
	started := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	var fail atomic.Bool
	w.serve(t, Config{Resync: func(context.Context) (time.Time, error) {
		if fail.Load() {
			return time.Time{}, errors.New("no active poller")
		}
		return started, nil
	}})
	a := w.ask(t, "crm.bridge.resync", "").ok(t)
	if got := str(t, a.body["started"]); got != started.Format(time.RFC3339) {
		t.Errorf("got started %q, want %s", got, started.Format(time.RFC3339))
	}
	fail.Store(true)
	if a := w.ask(t, "crm.bridge.resync", "{}"); a.code != "503" || a.errCode != CodeNotReady || !strings.Contains(string(a.raw), "no active poller") {
		t.Errorf("failed resync: got %q %q %s, want 503 NOT_READY naming the cause", a.code, a.errCode, a.raw)
	}
}

// The index is built once the model is filled, not while the first
// complete export fills it: until then find answers NOT_READY, and then
// it finds what the model held before and what comes after.
func TestIndexBuiltOnceFilled(t *testing.T) {
	w := newWorld(t, embedded.Options{})
	s := w.serve(t, Config{})
	w.put(t, "cus_1", record("cus_1", "Ada", "5550100", "ada@example.com"))
	if a := w.ask(t, "crm.customer.find", `{"phone":"5550100"}`); a.errCode != CodeNotReady {
		t.Fatalf("find before the model is filled: got %s %s, want NOT_READY", a.code, a.raw)
	}
	if s.Indexed() {
		t.Fatal("indexed before the model is filled")
	}
	w.fill(t, time.Now())
	eventually.True(t, 10*time.Second, "indexed once filled", s.Indexed)
	w.put(t, "cus_2", record("cus_2", "Bob", "5550199", "bob@example.com"))
	find := func(body string) []string { return w.ask(t, "crm.customer.find", body).ok(t).ids(t) }
	if got := find(`{"phone":"5550100"}`); !slices.Equal(got, []string{"cus_1"}) {
		t.Errorf("a customer put before the model was filled: got %q, want cus_1", got)
	}
	eventually.True(t, 10*time.Second, "a customer put after", func() bool { return slices.Equal(find(`{"email":"BOB@example.com"}`), []string{"cus_2"}) })
}
