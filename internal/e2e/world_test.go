package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/crmsim/simtest"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
)

// world is one scenario's NATS, CRM, bridges and workload.
type world struct {
	t    *testing.T
	nats *natsNet
	nc   *nats.Conn
	js   jetstream.JetStream
	sim  *crmsim.Simulator
	subj streams.Subjects
	rng  *rand.Rand
	seed uint64

	replicas int
	bridges  int // started so far, for names

	// commanded are the customers that commands update and delete; other
	// are changed only out of band (in the CRM, not through the bridge).
	commanded, other []string
	cmds             []command
	// seeded is the CRM's last change when a poller had recorded the
	// existing customers, silently: every change after it must make an
	// event.
	seeded   uint64
	recorded bool
}

// command is one command of the workload and what it must come to.
type command struct {
	id, subject string
	op          string
	body        []byte
	customer    string // update, delete: the customer; create: ""
	want        string // the result's status
	// For a create, the customer it makes; for an update, the number it
	// sets.
	firstName, phone string
	number           int
}

type setup struct {
	nodes     int // NATS nodes: 1, or 3 for a cluster with R3 streams
	commanded int // customers that commands update and delete
	other     int // customers changed out of band only
	// maxPayload is the NATS servers' max_payload; 0: 16 MiB.
	maxPayload int32
}

func newWorld(t *testing.T, s setup) *world {
	t.Helper()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	w := &world{
		t:        t,
		nats:     startNATS(t, max(s.nodes, 1), s.maxPayload),
		subj:     streams.Subjects{Prefix: "crm"},
		rng:      rand.New(rand.NewPCG(seed, seed>>1)),
		seed:     seed,
		replicas: 1,
	}
	if s.nodes > 1 {
		w.replicas = 3
	}
	w.nc, w.js = w.nats.connect()
	w.sim = simtest.Start(t, crmsim.Options{APIKey: "k", OrgID: "o", RandSeed: seed, MaxChanges: 1 << 20})
	for i := range s.commanded + s.other {
		c, err := w.sim.CreateCustomer(crm.CreateParams{FirstName: "Seed", Phone: fmt.Sprintf("77%08d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if i < s.commanded {
			w.commanded = append(w.commanded, c.ID)
		} else {
			w.other = append(w.other, c.ID)
		}
	}
	return w
}

// env is the environment of a bridge process of this world.
func (w *world) env() map[string]string {
	return map[string]string{
		"BRIDGE_NATS_URL":           w.nats.url(),
		"BRIDGE_STREAM_REPLICAS":    strconv.Itoa(w.replicas),
		"BRIDGE_CRM_URL":            w.sim.URL(),
		"BRIDGE_CRM_API_KEY":        "k",
		"BRIDGE_CRM_ORG_ID":         "o",
		"BRIDGE_CRM_RATE":           "0",
		"BRIDGE_CRM_TIMEOUT":        "1s",
		"BRIDGE_RETRY_MAX_ELAPSED":  "10m",
		"BRIDGE_CONCURRENCY":        "16",
		"BRIDGE_POLL_INTERVAL":      "500ms",
		"BRIDGE_RECONCILE_INTERVAL": "3s",
		"BRIDGE_HTTP_ADDR":          "127.0.0.1:0",
		"BRIDGE_LOG_FORMAT":         "json",
	}
}

// startBridge starts one more bridge process with the world's settings
// and waits until it is ready; the first one also until its poller has
// recorded the customers that exist.
func (w *world) startBridge() *bridge {
	w.t.Helper()
	w.bridges++
	b := startBridge(w.t, fmt.Sprintf("bridge-%d", w.bridges), w.env(), true)
	if !w.recorded {
		eventually.True(w.t, time.Minute, "the poller to record the existing customers", func() bool {
			return strings.Contains(b.logs.String(), "poller recorded the existing customers")
		})
		w.seeded, w.recorded = w.sim.ChangeSeq(), true
	}
	return b
}

type plan struct {
	creates, updates, deletes, invalid int
}

// plan makes the workload: creates of new customers; updates, each
// setting a number that grows per customer, and some deletes as the last
// command of a customer, over the commanded customers; invalid commands
// that must be rejected. It interleaves them at random, keeping each
// customer's commands in order.
func (w *world) plan(p plan) {
	w.t.Helper()
	if p.deletes > len(w.commanded) {
		w.t.Fatalf("%d deletes of %d customers", p.deletes, len(w.commanded))
	}
	queues := make([][]command, len(w.commanded)+1) // the last: creates and invalid ones
	next := make([]int, len(w.commanded))
	for i := range p.updates {
		j := w.rng.IntN(len(w.commanded))
		id := w.commanded[j]
		n := next[j]
		next[j]++
		queues[j] = append(queues[j], command{
			id: fmt.Sprintf("u-%d", i), op: streams.OpUpdate, subject: w.subj.Update(id), customer: id,
			body: fmt.Appendf(nil, `{"number":"%d"}`, n), number: n, want: "applied",
		})
	}
	for j := range p.deletes {
		id := w.commanded[j]
		queues[j] = append(queues[j], command{
			id: fmt.Sprintf("d-%d", j), op: streams.OpDelete, subject: w.subj.Delete(id), customer: id, want: "applied",
		})
	}
	last := len(queues) - 1
	for i := range p.creates {
		c := command{id: fmt.Sprintf("c-%d", i), op: streams.OpCreate, subject: w.subj.Create(), want: "applied",
			firstName: fmt.Sprintf("New%d", i), phone: fmt.Sprintf("88%08d", i)}
		c.body = fmt.Appendf(nil, `{"firstName":%q,"phone":%q}`, c.firstName, c.phone)
		queues[last] = append(queues[last], c)
	}
	invalid := []struct{ op, subject, body string }{
		{streams.OpCreate, w.subj.Create(), `{"firstName":`},
		{streams.OpUpdate, w.subj.Prefix + ".customer.update.%zz", `{"number":"1"}`}, // a token that does not decode
		{streams.OpCreate, w.subj.Create(), `{"firstName":"X","phone":"1","bogus":true}`},
		{streams.OpDelete, w.subj.Prefix + ".customer.delete.cus%5Fx", ``}, // not the canonical token of cus_x
		{streams.OpCreate, w.subj.Create(), `[]`},
		{streams.OpCreate, w.subj.Create(), `{"phone":5}`},
	}
	for i := range p.invalid {
		x := invalid[i%len(invalid)]
		queues[last] = append(queues[last], command{id: fmt.Sprintf("x-%d", i), op: x.op, subject: x.subject, body: []byte(x.body), want: "rejected"})
	}
	w.rng.Shuffle(len(queues[last]), func(a, b int) { queues[last][a], queues[last][b] = queues[last][b], queues[last][a] })
	for {
		var open []int
		for q := range queues {
			if len(queues[q]) > 0 {
				open = append(open, q)
			}
		}
		if len(open) == 0 {
			break
		}
		q := open[w.rng.IntN(len(open))]
		w.cmds = append(w.cmds, queues[q][0])
		queues[q] = queues[q][1:]
	}
}

// publish publishes the workload in order, rate commands a second (0: as
// fast as acknowledged), each with its Nats-Msg-Id. It waits for each
// acknowledgement, and publishes again (the same id: JetStream drops a
// second copy) while NATS is away, so each customer's commands are stored
// in order. The returned function waits for the end.
func (w *world) publish(rate int) (wait func()) {
	w.t.Helper()
	done := make(chan error, 1)
	go func() {
		var tick <-chan time.Time
		if rate > 0 {
			tk := time.NewTicker(time.Second / time.Duration(rate))
			defer tk.Stop()
			tick = tk.C
		}
		for _, c := range w.cmds {
			if tick != nil {
				<-tick
			}
			if err := w.publishOne(c); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return func() {
		w.t.Helper()
		if err := <-done; err != nil {
			w.t.Fatal(err)
		}
	}
}

func (w *world) publishOne(c command) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		m := nats.NewMsg(c.subject)
		m.Header.Set(nats.MsgIdHdr, c.id)
		m.Data = c.body
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := w.js.PublishMsg(ctx, m)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("publish %s: %w", c.id, err)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-w.t.Context().Done():
			return errors.New("test over")
		}
	}
}

// results returns how many results are stored (0 when NATS cannot say).
func (w *world) results() int { return natstest.Count(w.js, streams.Events, w.subj.Result()) }

// waitResults waits until n results are stored.
func (w *world) waitResults(n int, within time.Duration) {
	w.t.Helper()
	eventually.True(w.t, within, fmt.Sprintf("%d results", n), func() bool { return w.results() >= n })
}

// churn changes the other customers out of band, one change every few
// milliseconds, until the returned function is called: updates, touches,
// archives, deletes and new customers.
func (w *world) churn() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	rng := rand.New(rand.NewPCG(w.seed, 7))
	go func() {
		defer wg.Done()
		tk := time.NewTicker(5 * time.Millisecond)
		defer tk.Stop()
		ids := append([]string(nil), w.other...)
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			if len(ids) == 0 {
				continue
			}
			i := rng.IntN(len(ids))
			id := ids[i]
			var err error
			switch r := rng.IntN(100); {
			case r < 70:
				_, err = w.sim.UpdateCustomer(id, func(c *crm.Customer) { c.FirstName = fmt.Sprintf("Out%d", n) })
			case r < 85:
				_, err = w.sim.Touch(id)
			case r < 90:
				_, err = w.sim.Archive(id)
			case r < 95:
				err = w.sim.Delete(id)
				ids = append(ids[:i], ids[i+1:]...)
			default:
				var c crm.Customer
				c, err = w.sim.CreateCustomer(crm.CreateParams{FirstName: "Oob", Phone: fmt.Sprintf("99%08d", n)})
				ids = append(ids, c.ID)
			}
			if err != nil && !errors.Is(err, crmsim.ErrNotFound) {
				w.t.Errorf("out-of-band change: %v", err)
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// setFaults sets the CRM's faults.
func (w *world) setFaults(f crmsim.Faults) {
	w.t.Helper()
	if err := w.sim.SetFaults(f); err != nil {
		w.t.Fatal(err)
	}
}
