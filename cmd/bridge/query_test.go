package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/queries/querytest"
)

// queryWorld starts NATS with a filled read model of two customers and
// the crm-bridge service, and returns the environment of a client
// subcommand.
func queryWorld(t *testing.T) map[string]string {
	t.Helper()
	srv := natstest.Start(t, embedded.Options{StoreDir: t.TempDir()})
	nc, js := natstest.Connect(t, srv)
	querytest.Start(t, nc, js, map[string]string{
		"cus_1": `{"id":"cus_1","firstName":"Ada","lastName":"Lovelace","phone":"5550100","phoneCountryCalling":"1","email":"ada@example.com"}`,
		"cus_2": `{"id":"cus_2","firstName":"Bob","lastName":null,"phone":"5550199","phoneCountryCalling":"1"}`,
	})
	return map[string]string{"BRIDGE_NATS_URL": srv.ClientURL()}
}

func TestQueryCommands(t *testing.T) {
	vars := queryWorld(t)
	tests := []struct {
		name           string
		args           []string
		exit           int
		stdout, stderr string // substrings
	}{
		{name: "get", args: []string{"get", "cus_1"}, stdout: "customer cus_1 from the read model as of"},
		{name: "get record", args: []string{"get", "cus_1"}, stdout: `  "lastName": "Lovelace",`},
		{name: "get json", args: []string{"get", "cus_1", "--json"}, stdout: `"source":"model"`},
		{name: "get missing", args: []string{"get", "cus_9"}, exit: 1},
		{name: "get fresh without a CRM", args: []string{"get", "--fresh", "cus_1"}, exit: 1},
		{name: "get without id", args: []string{"get"}, exit: 2},
		{name: "find phone", args: []string{"find", "--phone", "(555) 0100"}, stdout: "cus_1  Ada Lovelace  +1 5550100  ada@example.com\n"},
		{name: "find email", args: []string{"find", "--email", "ADA@example.com", "--json"}, stdout: `{"items":[{"id":"cus_1"`},
		{name: "find none", args: []string{"find", "--email", "x@example.com"}, stderr: "no customer found"},
		{name: "find both", args: []string{"find", "--phone", "1", "--email", "a@b.c"}, exit: 2},
		{name: "list", args: []string{"list"}, stdout: "cus_1  Ada Lovelace  +1 5550100  ada@example.com\ncus_2  Bob  +1 5550199\n"},
		{name: "list page", args: []string{"list", "--limit", "1"}, stdout: "cus_1  Ada", stderr: "bridge list --after cus_1"},
		{name: "list after", args: []string{"list", "--after", "cus_1", "--json"}, stdout: `"next":""`},
		{name: "list bad limit", args: []string{"list", "--limit", "0"}, exit: 2},
		{name: "list bad cursor", args: []string{"list", "--after", "a.b"}, exit: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := cli(t, vars, "", tt.args...)
			if got := exitCode(err); got != tt.exit {
				t.Fatalf("got exit %d (%v), want %d; stderr %q", got, err, tt.exit, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("got stdout %q, want it to hold %q", stdout, tt.stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("got stderr %q, want it to hold %q", stderr, tt.stderr)
			}
		})
	}
	_, _, err := cli(t, vars, "", "get", "cus_9")
	if err == nil || !strings.Contains(err.Error(), "NotFound (404)") {
		t.Errorf("get of a missing customer: got %v, want an error naming NotFound (404)", err)
	}
	stdout, _, err := cli(t, vars, "", "list", "--json")
	var r struct{ Items []json.RawMessage }
	if err != nil || json.Unmarshal([]byte(stdout), &r) != nil || len(r.Items) != 2 {
		t.Errorf("list --json: got %q, %v, want a reply with 2 items", stdout, err)
	}
}

func TestQueryWithoutBridge(t *testing.T) {
	vars, _ := clientStreams(t, embedded.Options{})
	_, _, err := cli(t, vars, "", "get", "cus_1")
	if err == nil || !strings.Contains(err.Error(), "no bridge answers") {
		t.Errorf("got %v, want an error saying no bridge answers", err)
	}
}

// The banner of bridge dev shows a query and the read model's bucket.
func TestBannerShowsQueries(t *testing.T) {
	var out strings.Builder
	banner(&out, config.Default(), "", 4222)
	for _, want := range []string{"go run ./cmd/bridge list --limit 5", "nats kv get CRM_CUSTOMERS <key>", "nats req crm.customer.get."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the banner does not show %q:\n%s", want, out.String())
		}
	}
}
