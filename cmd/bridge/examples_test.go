package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/schemas"
)

// nodeExamples is examples/node, from this package's directory.
var nodeExamples = filepath.Join(repoRoot, "examples", "node")

// TestNodeExamples runs the Node.js examples (examples/node, nats.js from
// npm) against `bridge dev` (NATS, the simulator and the bridge) and checks
// what each prints: publish.js (a command, its result from the reply and,
// with the reply missed, from crm.customer.result), events.js (a durable
// consumer: the created event, then on a second run the updated one),
// kv-get.js (the record in CRM_CUSTOMERS) and get.js (crm.customer.get, and
// the service error headers of a miss). Each example is a subtest of its
// own, so a failure names the example and shows its output.
//
// It needs node and the examples' packages (`make examples-deps`, or `npm
// ci --prefix examples/node`): without them it is skipped, unless CI is
// set, where it fails.
func TestNodeExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a bridge and node processes")
	}
	node := requireNode(t)
	srv := natstest.Server(t)
	_, js := natstest.Connect(t, srv)
	vars := map[string]string{
		"BRIDGE_NATS_URL":      srv.ClientURL(),
		"BRIDGE_DATA_DIR":      filepath.Join(t.TempDir(), "data"),
		"BRIDGE_HTTP_ADDR":     "127.0.0.1:0",
		"BRIDGE_POLL_INTERVAL": "200ms",
		"BRIDGE_LOG_FORMAT":    "json",
	}
	p := startProgram(t, vars, "dev", "--crmsim-addr", "127.0.0.1:0", "--seed-customers", "3", "--churn-interval", "0")
	devClient(t, p)
	p.logValue(t, "poller recorded the existing customers", "msg") // a create now is a created event
	ex := &examples{node: node, natsURL: srv.ClientURL()}

	var id string // the customer publish.js creates
	var after json.RawMessage
	t.Run("publish.js", func(t *testing.T) {
		out := ex.run(t, 0, "publish.js", "create", `{"firstName":"Ada","phone":"+44 20 7946 0018"}`)
		res := checkResult(t, out, "result from the reply (_INBOX.", "create")
		id = res.CustomerID
		// The created event first, so that the update is an event of its own.
		waitChangeEvents(t, js, id, 1)
		out = ex.run(t, 0, "publish.js", "--miss-reply", "update", id, `{"lastName":"Lovelace"}`)
		if !strings.Contains(out, "no reply: reading crm.customer.result in CRM_EVENTS for Command-Id ") {
			t.Errorf("publish.js --miss-reply: got no line saying it falls back to crm.customer.result:\n%s", out)
		}
		checkResult(t, out, "result from crm.customer.result (CRM_EVENTS seq ", "update")
		// The same command id again: JetStream drops it, and the result
		// is the one already published.
		out = ex.run(t, 1, "publish.js", "--id", "dup-1", "update", id, `{"gender":"X"}`)
		first := checkResult(t, out, "result from the reply", "update")
		out = ex.run(t, 1, "publish.js", "--id", "dup-1", "update", id, `{"gender":"X"}`)
		if !strings.Contains(out, "a duplicate: stored before") {
			t.Errorf("publish.js, the same command id twice: got no duplicate:\n%s", out)
		}
		again := checkResult(t, out, "result from crm.customer.result", "update")
		if first.CommandID != "dup-1" || first.Status != commands.StatusRejected || !again.FinishedAt.Equal(first.FinishedAt) {
			t.Errorf("publish.js, the same command id twice: got results %+v and %+v, want one rejected result of dup-1", first, again)
		}
	})
	if id == "" {
		t.Fatal("publish.js created no customer: the other examples need one")
	}

	t.Run("events.js", func(t *testing.T) {
		args := []string{"--durable", "example-test", "--customer", id, "--count", "1"}
		created := checkEvent(t, ex.run(t, 0, "events.js", args...), "created", id, "-")
		if string(created.before) != "null" || !strings.Contains(string(created.after), `"firstName":"Ada"`) {
			t.Errorf("created: got before %s, after %s; want null and Ada", created.before, created.after)
		}
		// A second run of the durable consumer carries on after the first.
		updated := checkEvent(t, ex.run(t, 0, "events.js", args...), "updated", id, "lastName")
		if !bytes.Equal(updated.before, created.after) || !strings.Contains(string(updated.after), `"lastName":"Lovelace"`) {
			t.Errorf("updated: got before %s, after %s; want the created record, and lastName Lovelace", updated.before, updated.after)
		}
		after = updated.after
	})

	t.Run("kv-get.js", func(t *testing.T) {
		ex.waitRecord(t, "kv-get.js", id, "CRM_CUSTOMERS key "+id+", revision ", after)
		out := ex.run(t, 1, "kv-get.js", "cus_nope.x")
		if !strings.Contains(out, "CRM_CUSTOMERS has no customer cus_nope.x (key =Y3VzX25vcGUueA)") {
			t.Errorf("kv-get.js cus_nope.x: got %s, want no customer under its key =Y3VzX25vcGUueA", out)
		}
	})

	t.Run("get.js", func(t *testing.T) {
		ex.waitRecord(t, "get.js", id, "customer "+id+" from the model, as of ", after)
		out := ex.run(t, 1, "get.js", "cus_nope")
		if !strings.Contains(out, "service error: Nats-Service-Error-Code 404, Nats-Service-Error NotFound\n") {
			t.Errorf("get.js cus_nope: got\n%s\nwant the service error headers 404 and NotFound", out)
		}
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal([]byte(lastLine(out)), &body); err != nil || body.Error.Code != "NotFound" || body.Error.Message == "" {
			t.Errorf("get.js cus_nope: got body %q (%v), want {\"error\": {\"code\": \"NotFound\", \"message\": ...}}", lastLine(out), err)
		}
	})
}

// waitRecord runs script with the customer id until it prints the record
// with lastName Lovelace (15 s at the most), and checks that record: want,
// after a line starting with prefix.
func (e *examples) waitRecord(t *testing.T, script, id, prefix string, want json.RawMessage) {
	t.Helper()
	var out string
	ok := eventually.Within(15*time.Second, func() bool {
		out = e.output(t, script, id)
		return strings.Contains(out, `"lastName":"Lovelace"`)
	})
	if !ok {
		t.Fatalf("%s %s: got no record with lastName Lovelace within 15s; last run:\n%s%s", script, id, out, readSideHint(out))
	}
	checkRecord(t, out, prefix, want)
}

// requireNode returns the path of node once examples/node's packages are
// installed; it skips t without them, or fails it when CI is set.
func requireNode(t *testing.T) string {
	t.Helper()
	missing := func(what string) {
		t.Helper()
		msg := what + ": install node (Debian: apt-get install nodejs npm), then `make examples-deps` (npm ci --prefix examples/node)"
		if ci := os.Getenv("CI"); ci != "" && ci != "false" && ci != "0" {
			t.Fatalf("%s; CI is set (%s), so this is a failure, not a skip", msg, ci)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("no node on PATH")
	}
	if _, err := os.Stat(filepath.Join(nodeExamples, "node_modules", "@nats-io", "transport-node", "package.json")); err != nil {
		missing("examples/node/node_modules is not installed")
	}
	return node
}

// examples runs the Node.js examples against one NATS server.
type examples struct {
	node    string
	natsURL string
}

// exec runs the example script with args and returns its standard output
// and standard error (together: the order in which it printed them) and
// its exit status, which it logs (go test -v shows them). It fails t when
// the script cannot run or takes over 60s.
func (e *examples) exec(t *testing.T, script string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.node, append([]string{script}, args...)...)
	cmd.Dir = nodeExamples
	cmd.Env = append(os.Environ(), "NATS_URL="+e.natsURL, "CRM_PREFIX=crm")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("node %s %q: still running after 60s; output:\n%s", script, args, out.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("node %s %q: %v", script, args, err)
	}
	t.Logf("node %s %q: exit status %d\n%s", script, args, cmd.ProcessState.ExitCode(), out.String())
	return out.String(), cmd.ProcessState.ExitCode()
}

// run runs the example and fails t unless it exits with status want.
func (e *examples) run(t *testing.T, want int, script string, args ...string) string {
	t.Helper()
	out, code := e.exec(t, script, args...)
	if code != want {
		t.Fatalf("node %s %q: got exit status %d, want %d; output:\n%s%s", script, args, code, want, out, readSideHint(out))
	}
	return out
}

// output runs the example and returns what it printed, whatever its exit
// status.
func (e *examples) output(t *testing.T, script string, args ...string) string {
	t.Helper()
	out, _ := e.exec(t, script, args...)
	return out
}

// readSideHint explains an example's failure that comes from a bridge
// without the read side (contract v2: CRM_CUSTOMERS and the crm-bridge
// service), or returns "".
func readSideHint(out string) string {
	switch {
	case strings.Contains(out, "cannot open the bucket CRM_CUSTOMERS"):
		return "\n(the bridge under test did not create the read model CRM_CUSTOMERS: issue 12, part 1)"
	case strings.Contains(out, "no answer on crm.customer.get."):
		return "\n(nothing serves crm.customer.get: the bridge under test has no crm-bridge query service, issue 12, part 2)"
	}
	return ""
}

// checkResult finds the line starting with prefix in a publish.js output,
// then the result (JSON) that it prints last, checks it against
// result.schema.json and op, and returns it. The command applies unless
// the example's exit status said otherwise (checked by run).
func checkResult(t *testing.T, out, prefix, op string) commands.Result {
	t.Helper()
	if !hasLinePrefix(out, prefix) {
		t.Errorf("publish.js: got no line starting %q:\n%s", prefix, out)
	}
	line := lastLine(out)
	if err := schemas.Validate(schemas.Result, []byte(line)); err != nil {
		t.Fatalf("publish.js: the result it printed last: %v\n%s", err, out)
	}
	var res commands.Result
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatal(err)
	}
	if res.Op != op || res.CustomerID == "" {
		t.Errorf("publish.js: got result %s, want one of %s with a customer id", line, op)
	}
	return res
}

// event is what events.js prints of one event.
type event struct{ before, after json.RawMessage }

// checkEvent checks an events.js output of one event: change of customer
// id, with fields (as printed: "-" for none), before and after each a
// customer record or null.
func checkEvent(t *testing.T, out, change, id, fields string) event {
	t.Helper()
	var ev event
	if !hasLinePrefix(out, "following crm.customer.changed."+id+" with durable consumer example-test on CRM_EVENTS") {
		t.Errorf("events.js: got no line naming its filter and durable consumer:\n%s", out)
	}
	if !hasLinePrefix(out, change+" "+id+" (ce-id ") || !strings.Contains(out, "ce-source gormic-crm/"+devOrgID) {
		t.Errorf("events.js: got no %s event of %s with its CloudEvents headers:\n%s", change, id, out)
	}
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		if f, ok := strings.CutPrefix(line, "fields: "); ok && f != fields {
			t.Errorf("events.js: got fields %q, want %q", f, fields)
		}
		for name, dst := range map[string]*json.RawMessage{"before: ": &ev.before, "after: ": &ev.after} {
			if rec, ok := strings.CutPrefix(line, name); ok {
				*dst = json.RawMessage(strings.TrimSpace(rec))
				if rec := *dst; string(rec) != "null" {
					if err := schemas.Validate(schemas.Customer, rec); err != nil {
						t.Errorf("events.js: %s%v", name, err)
					}
				}
			}
		}
	}
	if ev.before == nil || ev.after == nil {
		t.Fatalf("events.js: got no before or no after:\n%s", out)
	}
	return ev
}

// checkRecord checks an output whose line after the one starting with
// prefix is a customer record: valid, and equal to want.
func checkRecord(t *testing.T, out, prefix string, want json.RawMessage) {
	t.Helper()
	if !hasLinePrefix(out, prefix) {
		t.Errorf("got no line starting %q:\n%s", prefix, out)
	}
	rec := lastLine(out)
	if err := schemas.Validate(schemas.Customer, []byte(rec)); err != nil {
		t.Errorf("record: %v\n%s", err, out)
	}
	if want != nil && rec != string(want) {
		t.Errorf("record: got %s, want the last event's after %s", rec, want)
	}
}

func hasLinePrefix(out, prefix string) bool {
	for line := range strings.Lines(out) {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}

func lastLine(out string) string {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	return lines[len(lines)-1]
}
