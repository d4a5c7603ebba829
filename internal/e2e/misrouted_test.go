package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
)

// misroutedMsg is the error line a bridge logs once when its CRM URL
// answers a 404 without the CRM's error envelope.
const misroutedMsg = "CRM URL does not reach the CRM's API (HTTP 404 without its error envelope; check BRIDGE_CRM_URL): commands stop until it does; nothing is dead-lettered"

// A bridge whose BRIDGE_CRM_URL answers every request with a bare 404 (a
// wrong path, a gateway with no route) applies nothing, rejects and
// dead-letters nothing but the invalid commands, logs one error line at
// start, and /readyz says why, naming the URL's host and no secret;
// started again with the right URL (the simulator, whose 404s carry the
// CRM's NotFound), it applies every held command, and an update of a
// missing customer is still rejected NotFound.
func TestBare404URLFixedByRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, setup{nodes: 1, commanded: 20, other: 10})
	w.plan(plan{creates: 200, updates: 200, deletes: 5, invalid: 5})
	w.cmds = append(w.cmds, command{id: "u-missing", op: streams.OpUpdate, subject: w.subj.Update("cus_missing"),
		customer: "cus_missing", body: []byte(`{"number":"1"}`), want: "rejected"})
	var seen atomic.Int64
	gw := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		http.NotFound(rw, r)
	}))
	t.Cleanup(gw.Close)
	const secret = "s3cret-api-key-404"
	env := w.env()
	env["BRIDGE_CRM_URL"] = gw.URL + "/wrong/prefix"
	env["BRIDGE_CRM_API_KEY"] = secret
	wrong := startBridge(t, "bridge-bare-404", env, false)

	// Before any command: one error line, and /readyz 503 naming the cause
	// and the host.
	eventually.True(t, time.Minute, "the bridge to say its CRM URL is wrong", func() bool {
		return wrong.logValue(misroutedMsg, "err") != ""
	})
	u, err := url.Parse(gw.URL)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	code, body := wrong.readyzBody()
	if code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with a bare-404 URL: %d, want 503", code)
	}
	for _, want := range []string{"BRIDGE_CRM_URL", "404", host} {
		if !strings.Contains(body, want) {
			t.Errorf("/readyz body %s: want it to name %q", body, want)
		}
	}

	w.publish(0)()
	// Nothing ends but invalid commands (rejected before any CRM call)
	// while the probe keeps asking.
	asked := seen.Load()
	eventually.True(t, time.Minute, "the probe to ask the CRM again", func() bool { return seen.Load() > asked+1 })
	held := natstest.Messages(t, w.js, streams.Events, w.subj.Result())
	for _, m := range held {
		if id := m.Headers().Get(commands.HeaderCommandID); !strings.HasPrefix(id, "x-") {
			t.Errorf("result for %s with a bare-404 URL, want none but the invalid commands'", id)
		}
	}
	if n := natstest.Count(w.js, streams.DLQ, ">"); n != len(held) {
		t.Errorf("%d dead letters with a bare-404 URL, want %d (the invalid commands' rejections)", n, len(held))
	}
	if code, body := wrong.readyzBody(); code != http.StatusServiceUnavailable || !strings.Contains(body, host) {
		t.Errorf("/readyz while commands wait: %d %s, want 503 naming %s", code, body, host)
	}
	wrong.stop(t)
	logs := wrong.logs.String()
	if n := strings.Count(logs, misroutedMsg); n != 1 {
		t.Errorf("the bridge logged %q %d times, want once", misroutedMsg, n)
	}
	if strings.Contains(logs, secret) || strings.Contains(body, secret) {
		t.Error("the api key is in the logs or /readyz")
	}

	w.startBridge()
	w.check()
	for _, m := range natstest.Messages(t, w.js, streams.Events, w.subj.Result()) {
		var r commands.Result
		if err := json.Unmarshal(m.Data(), &r); err != nil {
			t.Fatal(err)
		}
		if r.CommandID == "u-missing" && (r.Error == nil || r.Error.Code != crm.CodeNotFound) {
			t.Errorf("update of a missing customer: got %+v, want rejected NotFound", r)
		}
	}
}
