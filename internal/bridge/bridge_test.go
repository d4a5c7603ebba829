package bridge

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/crmsim/simtest"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/health"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/proctest"
	"github.com/gormic/crm-bridge/internal/streams"
)

func TestMain(m *testing.M) {
	// Two goroutines of nats-server's file store may outlive a Shutdown
	// for a while on a loaded machine (seen in CI); they are the server's,
	// not the bridge's.
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server/ats.Register.func1"),
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*fileStore).flushStreamStateLoop"))
}

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.CRMURL = "http://127.0.0.1:1"
	cfg.CRMAPIKey = "key"
	cfg.CRMOrgID = "org"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	return cfg
}

func readyz(t *testing.T, addr string) (int, health.Status) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	defer resp.Body.Close()
	var st health.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("decode /readyz: %v", err)
	}
	return resp.StatusCode, st
}

func start(t *testing.T, cfg config.Config, port int) *Bridge {
	t.Helper()
	b := New(cfg, Options{EmbeddedPort: port})
	if err := b.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := b.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return b
}

func TestStartsOnExternalNATS(t *testing.T) {
	srv := natstest.Server(t)
	cfg := testConfig(t)
	cfg.NATSURL = srv.ClientURL()
	b := start(t, cfg, 0)

	waitReady(t, b)
	if got := b.readsNC.Opts.SubChanLen; got != readsQueueLen {
		t.Errorf("the poller's reads connection holds %d messages a subscription, want %d", got, readsQueueLen)
	}
	_, js := natstest.Connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, name := range []string{streams.Commands, streams.Events, streams.DLQ} {
		if _, err := js.Stream(ctx, name); err != nil {
			t.Errorf("stream %s: %v", name, err)
		}
	}
	resp, err := http.Get("http://" + b.HTTPAddr() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + b.HTTPAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("/metrics lacks go_goroutines:\n%.300s", body)
	}
}

func TestStartsEmbeddedNATSWhenNoURL(t *testing.T) {
	cfg := testConfig(t)
	b := start(t, cfg, -1)
	if b.NATSURL() == "" {
		t.Fatal("no embedded NATS URL")
	}
	waitReady(t, b)
	nc, err := nats.Connect(b.NATSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := js.Stream(ctx, streams.Commands); err != nil {
		t.Errorf("stream on the embedded server: %v", err)
	}
}

func TestNotReadyWithoutNATS(t *testing.T) {
	srv := natstest.Server(t)
	url := srv.ClientURL()
	srv.Shutdown() // nothing listens there now
	cfg := testConfig(t)
	cfg.NATSURL = url
	b := start(t, cfg, 0)
	code, st := readyz(t, b.HTTPAddr())
	if code != http.StatusServiceUnavailable {
		t.Fatalf("got %d, want 503", code)
	}
	if got := st.Parts["nats"]; !strings.HasPrefix(got, "not connected") {
		t.Errorf("got nats %q, want a reason starting with 'not connected'", got)
	}
	if got := st.Parts["streams"]; got == "ok" {
		t.Errorf("got streams ok, want a reason")
	}
	// /readyz's parts, as metrics: what alerts read.
	for _, part := range []string{"nats", "streams"} {
		sample := `crm_bridge_ready{part="` + part + `"}`
		if got := proctest.Metric(t, b.HTTPAddr(), sample); got != 0 {
			t.Errorf("%s = %v, want 0", sample, got)
		}
	}
}

func TestStopsWhenHTTPAddrTaken(t *testing.T) {
	srv := natstest.Server(t)
	cfg := testConfig(t)
	cfg.NATSURL = srv.ClientURL()
	first := start(t, cfg, 0)
	cfg.HTTPAddr = first.HTTPAddr()
	b := New(cfg, Options{})
	err := b.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "BRIDGE_HTTP_ADDR") {
		t.Errorf("got %v, want an error naming BRIDGE_HTTP_ADDR", err)
	}
}

// A 401 from the CRM makes /readyz fail with the reason, once a command
// meets it (issue 3, done-when 7, at the HTTP endpoint).
func TestReadyzFailsWhenCRMRefusesTheKey(t *testing.T) {
	b := startAndCreate(t, crmsim.Faults{Unauthorized: true}, `{"firstName":"A","phone":"5550100"}`)
	eventually.True(t, 10*time.Second, "/readyz still 200 after a 401", func() bool {
		code, st := readyz(t, b.HTTPAddr())
		return code == http.StatusServiceUnavailable && strings.Contains(st.Parts["commands"], "credentials")
	})
	if got := proctest.Metric(t, b.HTTPAddr(), `crm_bridge_ready{part="commands"}`); got != 0 {
		t.Errorf(`crm_bridge_ready{part="commands"} = %v, want 0 while the CRM refuses the key`, got)
	}
	if got := proctest.Metric(t, b.HTTPAddr(), `crm_bridge_ready{part="nats"}`); got != 1 {
		t.Errorf(`crm_bridge_ready{part="nats"} = %v, want 1`, got)
	}
}

// startAndCreate starts a bridge on a NATS server of its own and a
// simulator with faults, waits until it is ready, and publishes a create
// command with body; it returns the bridge.
func startAndCreate(t *testing.T, faults crmsim.Faults, body string) *Bridge {
	t.Helper()
	srv := natstest.Server(t)
	sim := simtest.Start(t, crmsim.Options{})
	if err := sim.SetFaults(faults); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.NATSURL = srv.ClientURL()
	cfg.CRMURL = sim.URL()
	b := start(t, cfg, 0)
	waitReady(t, b)
	_, js := natstest.Connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.Publish(ctx, "crm.customer.create", []byte(body)); err != nil {
		t.Fatal(err)
	}
	return b
}

// waitReady waits until b answers /readyz with 200.
func waitReady(t *testing.T, b *Bridge) {
	t.Helper()
	eventually.True(t, 10*time.Second, "/readyz never answered 200", func() bool {
		code, _ := readyz(t, b.HTTPAddr())
		return code == http.StatusOK
	})
}

// Issue 5: /metrics is scraped and its counters move as commands flow
// and the poller polls.
func TestMetricsMove(t *testing.T) {
	srv := natstest.Server(t)
	sim := simtest.Start(t, crmsim.Options{})
	sim.Seed(5)
	cfg := testConfig(t)
	cfg.NATSURL = srv.ClientURL()
	cfg.CRMURL = sim.URL()
	cfg.PollInterval = 100 * time.Millisecond
	b := start(t, cfg, 0)
	waitReady(t, b)
	addr := b.HTTPAddr()
	eventually.True(t, 20*time.Second, "a first complete poll", func() bool {
		return proctest.Metric(t, addr, `crm_bridge_poller_polls_total{kind="reconcile",result="ok"}`) >= 1
	})
	for _, part := range []string{"nats", "streams", "commands", "poller"} {
		sample := `crm_bridge_ready{part="` + part + `"}`
		if got := proctest.Metric(t, addr, sample); got != 1 {
			t.Errorf("%s = %v, want 1 in a ready bridge", sample, got)
		}
	}
	if got := proctest.Metric(t, addr, "crm_bridge_poller_active"); got != 1 {
		t.Errorf("crm_bridge_poller_active = %v, want 1", got)
	}
	if got := proctest.Metric(t, addr, "crm_bridge_crm_rate_share"); got != cfg.CRMRate {
		t.Errorf("crm_bridge_crm_rate_share = %v, want all of BRIDGE_CRM_RATE, %v, for the only process", got, cfg.CRMRate)
	}

	_, js := natstest.Connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, body := range []string{`{"firstName":"A","phone":"5550101"}`, `{"firstName":"B","phone":"5550102"}`, `{"firstName":"C"}`} {
		m := nats.NewMsg("crm.customer.create")
		m.Header.Set(nats.MsgIdHdr, "m-"+strconv.Itoa(i))
		m.Data = []byte(body)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	eventually.True(t, 20*time.Second, "2 applied and 1 rejected command counted", func() bool {
		return proctest.Metric(t, addr, `crm_bridge_commands_total{op="create",status="applied"}`) == 2 &&
			proctest.Metric(t, addr, `crm_bridge_commands_total{op="create",status="rejected"}`) == 1
	})
	for sample, atLeast := range map[string]float64{
		`crm_bridge_dead_letters_total{op="create",status="rejected"}`:            1,
		`crm_bridge_command_duration_seconds_count{op="create",status="applied"}`: 2,
		`crm_bridge_crm_requests_total{op="create",status="200"}`:                 2,
		`crm_bridge_crm_request_duration_seconds_count{op="export"}`:              1,
		`crm_bridge_commands_pending`:                                             0,
		`crm_bridge_commands_ack_pending`:                                         0,
	} {
		if got := proctest.Metric(t, addr, sample); got < atLeast {
			t.Errorf("%s = %v, want at least %v", sample, got, atLeast)
		}
	}
	// The two customers the commands made come out as change events.
	eventually.True(t, 20*time.Second, "2 created events counted", func() bool {
		return proctest.Metric(t, addr, `crm_bridge_poller_events_total{change="created"}`) == 2
	})
	if got := proctest.Metric(t, addr, "crm_bridge_poller_last_success_timestamp_seconds"); got < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("crm_bridge_poller_last_success_timestamp_seconds = %v", got)
	}
}

// The CRM's warnings are counted by op, each entry of an answer's
// warnings once.
func TestCRMWarningsCounted(t *testing.T) {
	b := startAndCreate(t, crmsim.Faults{Warnings: []crmsim.Warning{{Code: "W1"}, {Code: "W2", Message: "m"}}}, `{"firstName":"A","phone":"5550101"}`)
	eventually.True(t, 20*time.Second, "the create's 2 warnings counted", func() bool {
		return proctest.Metric(t, b.HTTPAddr(), `crm_bridge_crm_warnings_total{op="create"}`) == 2
	})
	if got := proctest.Metric(t, b.HTTPAddr(), `crm_bridge_crm_warnings_total{op="export"}`); got < 2 || int(got)%2 != 0 {
		t.Errorf(`crm_bridge_crm_warnings_total{op="export"} = %v, want a positive multiple of 2`, got)
	}
}
