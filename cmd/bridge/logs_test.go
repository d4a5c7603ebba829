package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/crmsim/simtest"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/schemas"
)

// Issue 5: every log line about a command carries its command id, op and
// customer id; every CRM call its request id; and no secret is ever
// printed, at debug level, with commands, retries and polls going on; nor
// does one reach the metrics or a dead letter.
func TestLogsCarryIDsAndNoSecrets(t *testing.T) {
	const (
		apiKey   = "k3y-that-must-not-show"
		password = "pa55word-that-must-not-show"
	)
	srv := natstest.Start(t, embedded.Options{StoreDir: t.TempDir(), User: "bridge", Password: password})
	sim := simtest.Start(t, crmsim.Options{APIKey: apiKey, OrgID: "o"})
	sim.Seed(3)
	p := startProgram(t, map[string]string{
		"BRIDGE_NATS_URL":      srv.ClientURL(),
		"BRIDGE_NATS_USER":     "bridge",
		"BRIDGE_NATS_PASSWORD": password,
		"BRIDGE_CRM_URL":       sim.URL(),
		"BRIDGE_CRM_API_KEY":   apiKey,
		"BRIDGE_CRM_ORG_ID":    "o",
		"BRIDGE_CRM_RATE":      "0",
		"BRIDGE_HTTP_ADDR":     "127.0.0.1:0",
		"BRIDGE_POLL_INTERVAL": "200ms",
		"BRIDGE_LOG_FORMAT":    "json",
		"BRIDGE_LOG_LEVEL":     "debug",
	})
	addr := p.logValue(t, "http listening", "addr")
	waitReady(t, addr)
	if err := sim.SetFaults(crmsim.Faults{ErrorRate: 0.3}); err != nil { // retries, and their logs
		t.Fatal(err)
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo("bridge", password))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	customers := sim.Customers()
	publish := func(subject, id, body string) {
		t.Helper()
		m := nats.NewMsg(subject)
		m.Header.Set(nats.MsgIdHdr, id)
		m.Data = []byte(body)
		if err := nc.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	publish("crm.customer.create", "c-1", `{"firstName":"Ada","phone":"5550100"}`)
	publish("crm.customer.update."+customers[0].ID, "u-1", `{"lastName":"Lovelace"}`)
	publish("crm.customer.update."+customers[1].ID, "u-2", `{"gender":"X"}`)
	publish("crm.customer.delete."+customers[2].ID, "d-1", ``)
	eventually.True(t, 30*time.Second, "4 commands done and their changes polled", func() bool {
		logs := p.stderr.String()
		return strings.Count(logs, `"msg":"command done"`) == 4 && strings.Count(logs, `"msg":"poll done"`) >= 2
	})
	// Nor in the metrics, nor in the dead letters (the rejected update's).
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var letters strings.Builder
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range natstest.Messages(t, js, streams.DLQ, "crm.customer.dlq.>") {
		if err := schemas.ValidateDeadLetter(m.Headers()); err != nil {
			t.Errorf("dead letter %s: got %v, want its headers valid", m.Subject(), err)
		}
		fmt.Fprintf(&letters, "%v %s\n", m.Headers(), m.Data())
	}
	if letters.Len() == 0 {
		t.Error("no dead letter to look into")
	}
	for _, secret := range []string{apiKey, password} {
		if strings.Contains(string(metrics), secret) || strings.Contains(letters.String(), secret) {
			t.Errorf("the metrics or the dead letters show a secret (%s)", secret)
		}
	}
	if err := p.stop(t); err != nil {
		t.Fatal(err)
	}

	logs := p.stderr.String()
	for _, secret := range []string{apiKey, password} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs show a secret (%s)", secret)
		}
	}
	crmCalls, commandLines := 0, 0
	for line := range strings.Lines(logs) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON line: %s", line)
			continue
		}
		if rec["component"] == "commands" && rec["command_id"] != nil {
			commandLines++
			// A create has no customer id until the CRM made the customer.
			needID := rec["op"] != "create" || rec["msg"] == "command done"
			if rec["op"] == nil || rec["op"] == "" || needID && (rec["customer_id"] == nil || rec["customer_id"] == "") {
				t.Errorf("a command's line lacks op or customer_id: %s", line)
			}
		}
		if rec["msg"] == "command done" && rec["command_id"] == nil {
			t.Errorf("command done without command_id: %s", line)
		}
		if rec["msg"] == "crm request" {
			crmCalls++
			if status, _ := rec["status"].(float64); status != 0 && rec["request_id"] == "" {
				t.Errorf("a CRM call that was answered lacks its request id: %s", line)
			}
		}
	}
	if crmCalls == 0 || commandLines < 4 {
		t.Errorf("%d CRM calls and %d lines about commands logged, want some of each", crmCalls, commandLines)
	}
}
