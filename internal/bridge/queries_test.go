package bridge

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/crmsim/simtest"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/proctest"
	"github.com/gormic/crm-bridge/internal/queries/querytest"
)

// Every bridge process serves the queries in one queue group: both of two
// processes answer (their $SRV.STATS count the requests), /metrics counts
// them, and when one stops the other still answers.
func TestQueriesServedByEveryProcess(t *testing.T) {
	srv := natstest.Server(t)
	sim := simtest.Start(t, crmsim.Options{})
	c, err := sim.CreateCustomer(crm.CreateParams{FirstName: "Ada", Phone: "5550100"})
	if err != nil {
		t.Fatal(err)
	}
	nc, js := natstest.Connect(t, srv)
	rec, _ := json.Marshal(map[string]string{"id": c.ID, "firstName": "Ada", "phone": "5550100"})
	querytest.Fill(t, js, map[string]string{c.ID: string(rec)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := testConfig(t)
	cfg.NATSURL = srv.ClientURL()
	cfg.CRMURL = sim.URL()
	one, two := start(t, cfg, 0), start(t, cfg, 0)
	waitReady(t, one)
	waitReady(t, two)

	const n = 40
	for i := range n {
		m, err := nc.Request("crm.customer.get."+c.ID, nil, 5*time.Second)
		if err != nil || m.Header.Get(micro.ErrorCodeHeader) != "" {
			t.Fatalf("get %d: %v %v %s", i, err, m.Header, m.Data)
		}
	}
	// A process counts a request (micro's stats, /metrics) once its
	// answer is sent, so the last counts may follow the last answer.
	stats := func() (total int, perProcess map[string]int) {
		sub, err := nc.SubscribeSync(nc.NewRespInbox())
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Unsubscribe()
		if err := nc.PublishRequest("$SRV.STATS.crm-bridge", sub.Subject, nil); err != nil {
			t.Fatal(err)
		}
		perProcess = map[string]int{}
		for i := range 2 {
			m, err := sub.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatalf("$SRV.STATS reply %d of 2: %v", i+1, err)
			}
			var st micro.Stats
			if err := json.Unmarshal(m.Data, &st); err != nil {
				t.Fatal(err)
			}
			for _, ep := range st.Endpoints {
				if ep.Name == "get" {
					perProcess[st.ID] = ep.NumRequests
					total += ep.NumRequests
				}
			}
		}
		return total, perProcess
	}
	var total int
	var perProcess map[string]int
	if !eventually.Within(10*time.Second, func() bool { total, perProcess = stats(); return total == n }) {
		t.Errorf("got %d gets counted, want %d", total, n)
	}
	for id, got := range perProcess {
		if got == 0 {
			t.Errorf("process %s answered no get of %d", id, n)
		}
	}
	var ok float64
	if !eventually.Within(10*time.Second, func() bool {
		ok = proctest.Metric(t, one.HTTPAddr(), `crm_bridge_queries_total{endpoint="get",status="ok"}`) +
			proctest.Metric(t, two.HTTPAddr(), `crm_bridge_queries_total{endpoint="get",status="ok"}`)
		return ok == n
	}) {
		t.Errorf("crm_bridge_queries_total get ok over both: got %v, want %d", ok, n)
	}
	if err := one.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := nc.Request("crm.customer.get."+c.ID, nil, 5*time.Second); err != nil {
			t.Fatalf("get %d after one process stopped: %v", i, err)
		}
	}
}
