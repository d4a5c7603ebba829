package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/poller"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/schemas"
)

var crmSubjects = streams.Subjects{Prefix: "crm"}

// publishEvent stores a change event as the poller does.
func publishEvent(t *testing.T, js jetstream.JetStream, customerID, change string, fields ...string) poller.Event {
	t.Helper()
	id, _ := json.Marshal(customerID)
	rec := json.RawMessage(`{"id":` + string(id) + `,"firstName":"Ada","updatedAt":"2026-11-27T10:00:00Z"}`)
	ev := poller.Event{CustomerID: customerID, Change: change, Fields: fields, UpdatedAt: "2026-11-27T10:00:00Z", DetectedAt: time.Now()}
	switch change {
	case poller.Created:
		ev.After = rec
	case poller.Deleted:
		ev.Before = rec
	default:
		ev.Before, ev.After = rec, rec
	}
	m, err := poller.Message(crmSubjects, "acme", ev)
	if err != nil {
		t.Fatal(err)
	}
	publishMsg(t, js, m)
	return ev
}

// publishResult stores a result as the bridge does; it must match
// result.schema.json, as the bridge's do.
func publishResult(t *testing.T, js jetstream.JetStream, r commands.Result) {
	t.Helper()
	body, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := schemas.Validate(schemas.Result, body); err != nil {
		t.Fatalf("result %s: got %v, want it valid", body, err)
	}
	m := nats.NewMsg(crmSubjects.Result())
	m.Header.Set(commands.HeaderCommandID, r.CommandID)
	m.Header.Set(nats.MsgIdHdr, "result-"+r.CommandID)
	m.Data = body
	publishMsg(t, js, m)
}

func publishMsg(t *testing.T, js jetstream.JetStream, m *nats.Msg) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(ctx, m); err != nil {
		t.Fatalf("publish %s: %v", m.Subject, err)
	}
}

func applied(commandID, op, customerID string) commands.Result {
	return commands.Result{CommandID: commandID, Op: op, Status: commands.StatusApplied, CustomerID: customerID, Attempts: 1, FinishedAt: time.Now()}
}

var rejectedPhone = commands.Result{
	CommandID: "cmd-bad", Op: "create", Status: commands.StatusRejected,
	Error:      &commands.ResultError{Code: "VALIDATION", Message: "phone must hold 4 to 20 digits"},
	FinishedAt: time.Now(),
}

// startWatch runs bridge watch with args in the background and waits
// until it watches.
func startWatch(t *testing.T, vars map[string]string, args ...string) *program {
	t.Helper()
	p := startProgram(t, vars, append([]string{"watch"}, args...)...)
	eventually.True(t, 15*time.Second, "bridge watch did not start watching", func() bool {
		return strings.Contains(p.stderr.String(), "bridge watch: watching ")
	})
	return p
}

// waitLines waits until the program has printed n lines and returns them.
func (p *program) waitLines(t *testing.T, n int) []string {
	t.Helper()
	var lines []string
	eventually.True(t, 15*time.Second, fmt.Sprintf("not %d lines", n), func() bool {
		out := p.stdout.String()
		lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		return strings.HasSuffix(out, "\n") && len(lines) >= n
	})
	return lines
}

// jsonLines decodes lines of bridge watch --json.
func jsonLines(t *testing.T, lines []string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func TestWatchLines(t *testing.T) {
	vars, js := clientStreams(t, embedded.Options{})
	p := startWatch(t, vars)
	publishEvent(t, js, "cus_1", poller.Updated, "email", "lastName")
	publishResult(t, js, applied("cmd-1", "update", "cus_1"))
	publishResult(t, js, rejectedPhone)
	publishEvent(t, js, "cus_\x1b[31m2", poller.Created)
	lines := p.waitLines(t, 4)
	const clock = `^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d `
	for i, want := range []string{
		clock + `updated cus_1 \[email lastName\]$`,
		clock + `result  applied update cus_1 \(command cmd-1, 1 attempt\)$`,
		clock + `result  rejected create \(command cmd-bad, 0 attempts\): VALIDATION: phone must hold 4 to 20 digits$`,
		clock + `created cus_\?\[31m2$`, // no escape reaches the terminal
	} {
		if i >= len(lines) || !regexp.MustCompile(want).MatchString(lines[i]) {
			t.Errorf("line %d: got %q, want it to match %s", i, lines, want)
		}
	}
	if err := p.stop(t); err != nil {
		t.Errorf("watch returned %v after stop, want nil", err)
	}
}

func TestWatchJSON(t *testing.T) {
	vars, js := clientStreams(t, embedded.Options{})
	p := startWatch(t, vars, "--json")
	ev := publishEvent(t, js, "cus_1", poller.Updated, "email")
	publishResult(t, js, applied("cmd-1", "update", "cus_1"))
	publishMsg(t, js, &nats.Msg{Subject: crmSubjects.Result(), Data: []byte("not json")})
	lines := jsonLines(t, p.waitLines(t, 3))
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3", len(lines))
	}
	event, result, bad := lines[0], lines[1], lines[2]
	wantEvent := map[string]any{
		"type": "event", "seq": 1.0, "subject": "crm.customer.changed.cus_1", "ceId": ev.ID(), "ceSource": "gormic-crm/acme",
		"customerId": "cus_1", "change": "updated", "updatedAt": "2026-11-27T10:00:00Z",
	}
	for k, want := range wantEvent {
		if event[k] != want {
			t.Errorf("event %s: got %v, want %v", k, event[k], want)
		}
	}
	if f, _ := event["fields"].([]any); len(f) != 1 || f[0] != "email" {
		t.Errorf("event fields: got %v, want [email]", event["fields"])
	}
	if a, _ := event["after"].(map[string]any); a["firstName"] != "Ada" {
		t.Errorf("event after: got %v, want the record", event["after"])
	}
	if s, _ := event["storedAt"].(string); s == "" {
		t.Errorf("event has no storedAt: %v", event)
	}
	wantResult := map[string]any{
		"type": "result", "seq": 2.0, "subject": "crm.customer.result",
		"commandId": "cmd-1", "op": "update", "status": "applied", "customerId": "cus_1", "attempts": 1.0, "error": nil,
	}
	for k, want := range wantResult {
		if result[k] != want {
			t.Errorf("result %s: got %v, want %v", k, result[k], want)
		}
	}
	if bad["type"] != "result" || bad["invalidBody"] != "not json" {
		t.Errorf("got %v, want a result line with the invalid body", bad)
	}
}

func TestWatchCustomer(t *testing.T) {
	vars, js := clientStreams(t, embedded.Options{})
	const id = "cus.1" // not a subject token as it is
	p := startWatch(t, vars, "--json", "--customer", id)
	publishEvent(t, js, "cus_2", poller.Created)
	publishEvent(t, js, id, poller.Created)
	publishResult(t, js, applied("cmd-2", "update", "cus_2"))
	publishResult(t, js, rejectedPhone) // no customer
	publishResult(t, js, applied("cmd-1", "update", id))
	publishEvent(t, js, "cus_2", poller.Deleted)
	publishEvent(t, js, id, poller.Deleted) // the last
	// Messages come in stream order: once the last is shown, every other
	// one has been seen.
	eventually.True(t, 15*time.Second, "the last event not shown", func() bool {
		return strings.Contains(p.stdout.String(), `"change":"deleted"`)
	})
	lines := jsonLines(t, strings.Split(strings.TrimSpace(p.stdout.String()), "\n"))
	var got []string
	for _, l := range lines {
		str := func(k string) string { s, _ := l[k].(string); return s }
		got = append(got, str("type")+" "+str("customerId")+" "+str("change")+str("status"))
	}
	want := []string{"event cus.1 created", "result cus.1 applied", "event cus.1 deleted"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestWatchStart(t *testing.T) {
	vars, js := clientStreams(t, embedded.Options{})
	publishEvent(t, js, "cus_old", poller.Created)
	publishResult(t, js, applied("cmd-old", "create", "cus_old"))

	t.Run("all", func(t *testing.T) {
		stdout, _, err := cli(t, vars, "", "watch", "--all", "--json", "--limit", "2")
		lines := jsonLines(t, strings.Split(strings.TrimSpace(stdout), "\n"))
		if err != nil || len(lines) != 2 || lines[0]["customerId"] != "cus_old" || lines[1]["commandId"] != "cmd-old" {
			t.Errorf("got %v and %q, want the two stored messages", err, stdout)
		}
	})
	t.Run("since", func(t *testing.T) {
		stdout, _, err := cli(t, vars, "", "watch", "--since", "1h", "--limit", "1")
		if err != nil || !strings.Contains(stdout, "created cus_old") {
			t.Errorf("got %v and %q, want the first stored message", err, stdout)
		}
	})
	t.Run("new only", func(t *testing.T) {
		p := startWatch(t, vars)
		publishEvent(t, js, "cus_new", poller.Created)
		lines := p.waitLines(t, 1)
		if len(lines) != 1 || !strings.HasSuffix(lines[0], " created cus_new") {
			t.Errorf("got %q, want only the new event", lines)
		}
	})
}

func TestWatchWaitsForTheStream(t *testing.T) {
	srv := natstest.Server(t)
	_, js := natstest.Connect(t, srv)
	p := startProgram(t, map[string]string{"BRIDGE_NATS_URL": srv.ClientURL()}, "watch")
	eventually.True(t, 15*time.Second, "no note that the stream is missing", func() bool {
		return strings.Contains(p.stderr.String(), "no stream CRM_EVENTS yet")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, js, streams.Config{Prefix: "crm", Replicas: 1, Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, 15*time.Second, "bridge watch did not start watching", func() bool {
		return strings.Contains(p.stderr.String(), "bridge watch: watching ")
	})
	publishEvent(t, js, "cus_1", poller.Deleted)
	if lines := p.waitLines(t, 1); !strings.HasSuffix(lines[0], " deleted cus_1") {
		t.Errorf("got %q, want the event", lines)
	}

	_, _, err := cli(t, map[string]string{"BRIDGE_NATS_URL": natstest.Server(t).ClientURL()}, "", "watch", "--timeout", "300ms")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "no stream CRM_EVENTS after 300ms") {
		t.Errorf("got %v, want exit 1 for the missing stream", err)
	}
}

func TestWatchUsage(t *testing.T) {
	vars := map[string]string{"BRIDGE_NATS_URL": "nats://127.0.0.1:1"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"argument", []string{"watch", "cus_1"}, `unexpected argument "cus_1"`},
		{"all and since", []string{"watch", "--all", "--since", "1m"}, "exclude each other"},
		{"negative limit", []string{"watch", "--limit", "-1"}, "cannot be negative"},
		{"bad duration", []string{"watch", "--since", "soon"}, "-since"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cli(t, vars, "", tt.args...)
			if got := exitCode(err); got != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got exit %d, %v; want 2 and an error with %q", got, err, tt.want)
			}
		})
	}
}
