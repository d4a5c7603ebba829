package blackbox

import (
	"github.com/gormic/crm-bridge/internal/proctest"

	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/streams"
)

// lookupScenario times the lookup of an ambiguous create (issue 12: at most
// 100 ms at a million customers): a create that the CRM applied but whose
// answer was lost, retried, and refused DUPLICATE_PHONE, after which the
// bridge looks for the customer its first attempt made, in the read
// model's phone index and then in the CRM's export since the create
// (docs/commands.md). The simulator of customers answers every successful
// create by closing the connection (--drop-after-apply-rate 1); once the
// bridge's first poll has filled its read model, each round publishes
// creates of new customers one at a time, each awaited until its result,
// and reads each lookup's duration from the bridge's debug line "create
// lookup". Every create must end applied with the customer it made.
func lookupScenario(tb testing.TB, customers, creates, rounds int) *table {
	natsP, natsURL := startNATS(tb)
	_, crmURL := startSim(tb, customers, 0, "--drop-after-apply-rate", "1")
	nc, _ := connect(tb, natsURL)
	b := startBridge(tb, natsURL, crmURL, true, "BRIDGE_LOG_LEVEL=debug")
	waitModel(tb, b, nc, firstCustomer(tb, crmURL))

	subj := streams.Subjects{Prefix: "crm"}
	results, err := nc.SubscribeSync(subj.Result())
	if err != nil {
		tb.Fatal(err)
	}
	defer results.Unsubscribe()
	t := &table{title: fmt.Sprintf("lookup of an ambiguous create: %d customers, %d creates per round", customers, creates)}
	p50 := t.add("p50 (ms)", false, "")
	p99 := t.add("p99 (ms)", false, "")
	top := t.add("max (ms)", false, "≤ 100 ms")
	found := map[string]int{}
	for r := range rounds {
		seen := len(lookupLines(tb, b))
		for i := range creates {
			id := fmt.Sprintf("lookup%d-%d", r, i)
			m := nats.NewMsg(subj.Create())
			m.Header.Set(nats.MsgIdHdr, id)
			m.Data = fmt.Appendf(nil, `{"firstName":"Lookup","lastName":"R%dI%d","phone":"+999 %04d %06d"}`, r, i, r, i)
			if err := nc.PublishMsg(m); err != nil {
				tb.Fatal(err)
			}
			awaitApplied(tb, b, results, id)
		}
		// The log lines come through a pipe, maybe after the results.
		var lines []lookupLine
		proctest.WaitFor(tb, b, 30*time.Second, 10*time.Millisecond, "a create lookup line per create", func() bool {
			lines = lookupLines(tb, b)[seen:]
			return len(lines) >= creates
		})
		var took []time.Duration
		for _, l := range lines {
			took = append(took, l.took)
			found[l.found]++
		}
		a, b99 := percentiles(took)
		p50.put("bridge", a)
		p99.put("bridge", b99)
		top.put("bridge", float64(slices.Max(took).Microseconds())/1000)
	}
	t.note("lookups by where they found the customer: %v", found)
	t.note("nats-server peak RSS %.0f MB; bridge peak RSS %.0f MB", float64(natsP.PeakRSS(tb))/1e6, float64(b.PeakRSS(tb))/1e6)
	return t
}

// firstCustomer returns the id of the first customer of the export.
func firstCustomer(tb testing.TB, url string) string {
	tb.Helper()
	for page, err := range crmClient(tb, url).Export(context.Background(), time.Time{}) {
		if err != nil {
			tb.Fatal(err)
		}
		if len(page.Items) > 0 {
			return page.Items[0].ID
		}
	}
	tb.Fatal("the simulator has no customer")
	return ""
}

// waitModel waits until the bridge's read model answers crm.customer.get
// for id: its first poll is done.
func waitModel(tb testing.TB, b *proctest.Proc, nc *nats.Conn, id string) {
	tb.Helper()
	proctest.WaitFor(tb, b, 30*time.Minute, 200*time.Millisecond, "crm.customer.get to answer from the model", func() bool {
		m, err := nc.Request(querySubject(id), nil, 5*time.Second)
		if errors.Is(err, nats.ErrNoResponders) {
			tb.Fatal("nothing answers crm.customer.get: the bridge has no read model")
		}
		return err == nil && m.Header.Get("Nats-Service-Error-Code") == ""
	})
}

// awaitApplied waits for the result of command id and fails tb unless it
// is applied with a customer id.
func awaitApplied(tb testing.TB, b *proctest.Proc, results *nats.Subscription, id string) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		m, err := results.NextMsg(time.Until(deadline))
		if err != nil {
			tb.Fatalf("result of %s: %v (bridge exited: %v)", id, err, b.Exited())
		}
		if m.Header.Get("Command-Id") != id {
			continue
		}
		var res struct {
			Status     string `json:"status"`
			CustomerID string `json:"customerId"`
		}
		if err := json.Unmarshal(m.Data, &res); err != nil || res.Status != "applied" || res.CustomerID == "" {
			tb.Fatalf("result of %s: %s, want applied with a customer id", id, m.Data)
		}
		return
	}
}

// lookupLine is one "create lookup" line of the bridge's log.
type lookupLine struct {
	found string
	took  time.Duration
}

// lookupLines returns the bridge's "create lookup" lines so far.
func lookupLines(tb testing.TB, b *proctest.Proc) []lookupLine {
	tb.Helper()
	var out []lookupLine
	sc := bufio.NewScanner(strings.NewReader(b.Output.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if !strings.Contains(sc.Text(), `"msg":"create lookup"`) {
			continue
		}
		var l struct {
			Found    string `json:"found"`
			Duration string `json:"duration"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			tb.Fatalf("create lookup line %s: %v", sc.Text(), err)
		}
		d, err := time.ParseDuration(l.Duration)
		if err != nil {
			tb.Fatalf("create lookup line %s: %v", sc.Text(), err)
		}
		out = append(out, lookupLine{found: l.Found, took: d})
	}
	return out
}
