package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/proctest"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/syncbuf"
	"github.com/gormic/crm-bridge/schemas"
)

// cli runs the program once with vars as its environment and stdin as its
// standard input, and returns what it printed and returned.
func cli(t *testing.T, vars map[string]string, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut syncbuf.Buffer
	err = run(ctx, args, func(k string) string { return vars[k] }, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// exitCode is the exit status main gives err.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		return 2
	}
	return 1
}

// clientStreams starts NATS with opts and the bridge's streams, as a bridge
// makes them at start, and returns the environment of a client subcommand.
func clientStreams(t *testing.T, opts embedded.Options) (map[string]string, jetstream.JetStream) {
	t.Helper()
	if opts.StoreDir == "" {
		opts.StoreDir = t.TempDir()
	}
	srv := natstest.Start(t, opts)
	_, js := natstest.Connect(t, srv)
	natstest.EnsureStreams(t, js)
	return map[string]string{"BRIDGE_NATS_URL": srv.ClientURL()}, js
}

func TestPublishUsage(t *testing.T) {
	// Nothing listens there: usage errors come before any connection.
	vars := map[string]string{"BRIDGE_NATS_URL": "nats://127.0.0.1:1"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no operation", []string{"publish"}, "missing create, update or delete"},
		{"unknown operation", []string{"publish", "merge", "cus_1"}, `unknown operation "merge"`},
		{"update without id", []string{"publish", "update"}, "publish update: missing the customer id"},
		{"delete without id", []string{"publish", "--json", "delete"}, "publish delete: missing the customer id"},
		{"empty id", []string{"publish", "update", "", "{}"}, "missing the customer id"},
		{"two bodies", []string{"publish", "create", "{}", "{}"}, `unexpected argument "{}"`},
		{"unknown flag", []string{"publish", "create", "--bogus", "{}"}, "-bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cli(t, vars, "", tt.args...)
			if got := exitCode(err); got != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got exit %d, %v; want 2 and an error with %q", got, err, tt.want)
			}
		})
	}
	_, stderr, err := cli(t, vars, "", "publish", "--help")
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr, "bridge publish [flags] update ID [BODY]") || !strings.Contains(stderr, "-timeout") {
		t.Errorf("--help: got %v and\n%s\nwant flag.ErrHelp and the usage with the flags", err, stderr)
	}
}

func TestPublishWithoutBridgeTimesOut(t *testing.T) {
	vars, js := clientStreams(t, embedded.Options{})
	_, _, err := cli(t, vars, "", "publish", "create", `{"firstName":"Ada","phone":"5550100"}`, "--id", "cmd-lonely", "--timeout", "300ms")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "no result for command cmd-lonely after 300ms: is a bridge running?") {
		t.Fatalf("got %v, want exit 1 saying that no result came", err)
	}
	// The command is stored as the contract says, for a bridge to come.
	msgs := natstest.Messages(t, js, streams.Commands, "crm.customer.create")
	if len(msgs) != 1 {
		t.Fatalf("got %d stored commands, want 1", len(msgs))
	}
	h := msgs[0].Headers()
	if got := h.Get("Nats-Msg-Id"); got != "cmd-lonely" {
		t.Errorf("got Nats-Msg-Id %q, want cmd-lonely", got)
	}
	if got := h.Get(commands.HeaderReplyTo); !strings.HasPrefix(got, "_INBOX.") {
		t.Errorf("got Reply-To %q, want an inbox", got)
	}
	if got := string(msgs[0].Data()); got != `{"firstName":"Ada","phone":"5550100"}` {
		t.Errorf("got body %s", got)
	}

	// Interrupted while it waits: exit 1, saying that the command stays.
	p := startProgram(t, vars, "publish", "delete", "cus_1")
	eventually.True(t, 15*time.Second, "publish to say it waits for the result", func() bool {
		return strings.Contains(p.stderr.String(), "waiting for its result")
	})
	if n := natstest.Count(js, streams.Commands, "crm.customer.delete.>"); n != 1 {
		t.Errorf("got %d stored deletes, want 1", n)
	}
	if err := p.stop(t); exitCode(err) != 1 || !strings.Contains(err.Error(), "interrupted before the result of command") {
		t.Errorf("got %v, want exit 1 saying that it was interrupted", err)
	}
}

func TestPublishWithoutStream(t *testing.T) {
	srv := natstest.Server(t)
	_, _, err := cli(t, map[string]string{"BRIDGE_NATS_URL": srv.ClientURL()}, "", "publish", "delete", "cus_1", "--timeout", "1s")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "no stream stores it: has a bridge run against") {
		t.Errorf("got %v, want exit 1 saying that no stream stores the command", err)
	}
}

func TestPublishWithoutNATS(t *testing.T) {
	_, _, err := cli(t, map[string]string{"BRIDGE_NATS_URL": "nats://127.0.0.1:1"}, "", "publish", "delete", "cus_1")
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "cannot reach NATS at nats://127.0.0.1:1") {
		t.Errorf("got %v, want exit 1 naming the URL", err)
	}
}

var appliedCreate = regexp.MustCompile(`^applied create (\S+) \(command (\S+), 1 attempt\)\n$`)

// TestPublishThroughBridge publishes commands to a real bridge, run in
// this process against the CRM simulator.
func TestPublishThroughBridge(t *testing.T) {
	w := newWorld(t)
	env := w.env()
	env["BRIDGE_POLL_INTERVAL"] = "200ms"
	env["BRIDGE_POLLER_INITIAL_EVENTS"] = "true" // every new customer has a created event
	p := startProgram(t, env, "run")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bridge log (tail):\n%s", proctest.Tail(p.stderr.String(), 6000))
		}
	})
	w.waitConsumers()
	vars := map[string]string{"BRIDGE_NATS_URL": w.srv.ClientURL()}

	create := func(t *testing.T, stdin string, args ...string) (customerID string) {
		t.Helper()
		stdout, stderr, err := cli(t, vars, stdin, append([]string{"publish", "create"}, args...)...)
		m := appliedCreate.FindStringSubmatch(stdout)
		if err != nil || m == nil {
			t.Fatalf("got %v and %q (stderr %q), want exit 0 and an applied create", err, stdout, stderr)
		}
		return m[1]
	}

	t.Run("create applied", func(t *testing.T) {
		id := create(t, "", `{"firstName":"Ada","phone":"5550100"}`, "--id", "cmd-ada")
		c, ok := w.sim.Customer(id)
		if !ok || c.FirstName != "Ada" {
			t.Errorf("the CRM holds %+v, %v; want Ada", c, ok)
		}
	})
	t.Run("body from standard input", func(t *testing.T) {
		create(t, `{"firstName":"Grace","phone":"5550101"}`+"\n")
		create(t, `{"firstName":"Edsger","phone":"5550102"}`, "-")
	})
	t.Run("rejected", func(t *testing.T) {
		stdout, _, err := cli(t, vars, "", "publish", "create", `{"firstName":"Alan","phone":"12","gender":"X"}`, "--id", "cmd-bad")
		if exitCode(err) != 1 || !strings.Contains(err.Error(), "command cmd-bad rejected") {
			t.Errorf("got %v, want exit 1 for the rejected command", err)
		}
		want := "rejected create (command cmd-bad, 0 attempts): VALIDATION: "
		if !strings.HasPrefix(stdout, want) || !strings.Contains(stdout, "\n  gender: ") || !strings.Contains(stdout, "\n  phone: ") {
			t.Errorf("got\n%s\nwant it to start with %q and list the gender and phone problems", stdout, want)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		stdout, _, err := cli(t, vars, "", "publish", "create", `firstName=Alan`)
		if exitCode(err) != 1 || !strings.Contains(stdout, "VALIDATION: body is not valid JSON") {
			t.Errorf("got %v and %q, want exit 1 and the bridge's reason", err, stdout)
		}
	})
	t.Run("update and delete, JSON", func(t *testing.T) {
		id := create(t, "", `{"firstName":"Barbara","phone":"5550103"}`)
		for _, args := range [][]string{
			{"publish", "update", id, `{"lastName":"Liskov"}`, "--json", "--id", "cmd-upd"},
			{"publish", "--json", "delete", id, "--id", "cmd-del"},
		} {
			stdout, _, err := cli(t, vars, "", args...)
			var r commands.Result
			if jerr := json.Unmarshal([]byte(stdout), &r); err != nil || jerr != nil || !strings.HasSuffix(stdout, "}\n") {
				t.Fatalf("%v: got %v and %q, want exit 0 and one JSON result", args, err, stdout)
			}
			if err := schemas.Validate(schemas.Result, []byte(stdout)); err != nil {
				t.Errorf("%v: got %v, want the result valid", args, err)
			}
			if r.Status != commands.StatusApplied || r.CustomerID != id || r.CommandID != args[len(args)-1] {
				t.Errorf("%v: got %+v, want applied for %s", args, r, id)
			}
		}
		if _, ok := w.sim.Customer(id); ok {
			t.Errorf("customer %s still exists after the delete", id)
		}
	})
	t.Run("same command id again", func(t *testing.T) {
		first := create(t, "", `{"firstName":"Ken","phone":"5550104"}`, "--id", "cmd-twice")
		stdout, stderr, err := cli(t, vars, "", "publish", "create", `{"firstName":"Ken","phone":"5550104"}`, "--id", "cmd-twice")
		if m := appliedCreate.FindStringSubmatch(stdout); err != nil || m == nil || m[1] != first {
			t.Errorf("got %v and %q, want the first publish's result for %s", err, stdout, first)
		}
		if !strings.Contains(stderr, "command cmd-twice was already published") {
			t.Errorf("stderr %q does not say that the publish was a duplicate", stderr)
		}
	})
	t.Run("watch shows the result and the event", func(t *testing.T) {
		id := create(t, "", `{"firstName":"Ada","phone":"5550105"}`, "--id", "cmd-watched")
		stdout, _, err := cli(t, vars, "", "watch", "--json", "--all", "--customer", id, "--limit", "2")
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
			var m struct{ Type, CustomerID, Change, Status, CommandID string }
			if err := json.Unmarshal([]byte(line), &m); err != nil || m.CustomerID != id {
				t.Fatalf("line %q: %v; want a JSON line of customer %s", line, err, id)
			}
			seen[m.Type+" "+m.Change+m.Status+" "+m.CommandID] = true
		}
		for _, want := range []string{"event created ", "result applied cmd-watched"} {
			if !seen[want] {
				t.Errorf("got %v, want %q", seen, want)
			}
		}
	})
}
