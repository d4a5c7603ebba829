package commands

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
)

// benchConcurrency is the number of commands in flight, for the floor and
// the bridge alike.
const benchConcurrency = 64

// benchWorld is JetStream, the bridge's streams and a seeded simulator.
type benchWorld struct {
	srv       *embedded.Server
	nc        *nats.Conn
	js        jetstream.JetStream
	sim       *crmsim.Simulator
	client    *crm.Client
	customers []string
	subj      streams.Subjects
	seq       atomic.Int64
}

func newBenchWorld(b *testing.B, latency time.Duration) *benchWorld {
	b.Helper()
	// Benchmarks sync JetStream's files every second rather than every
	// write: fsync on this machine's disk would measure the disk.
	srv := natstest.Start(b, embedded.Options{StoreDir: b.TempDir(), SyncInterval: time.Second})
	nc, js := natstest.Connect(b, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	natstest.EnsureStreams(b, js)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "FLOOR", Subjects: []string{"floor.>"}, Storage: jetstream.FileStorage}); err != nil {
		b.Fatal(err)
	}
	sim, err := crmsim.New(crmsim.Options{RandSeed: 1})
	if err != nil {
		b.Fatal(err)
	}
	sim.Seed(2000)
	if err := sim.SetFaults(crmsim.Faults{Latency: latency}); err != nil {
		b.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sim.Close() })
	client, err := crm.New(crm.Config{BaseURL: sim.URL(), APIKey: "k", OrgID: "o", MaxConns: 2 * benchConcurrency})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(client.Close)
	w := &benchWorld{srv: srv, nc: nc, js: js, sim: sim, client: client, subj: streams.Subjects{Prefix: "crm"}}
	for _, c := range sim.Customers() {
		w.customers = append(w.customers, c.ID)
	}
	return w
}

// publishBacklog publishes n updates of random customers, each changing
// the customer's number, to subjectOf(customer id), and waits for them to
// be stored.
func (w *benchWorld) publishBacklog(b *testing.B, n int, subjectOf func(id string) string) {
	b.Helper()
	rng := rand.New(rand.NewPCG(uint64(w.seq.Load()), 1))
	for i := range n {
		if i%1000 == 999 {
			<-w.js.PublishAsyncComplete()
		}
		k := w.seq.Add(1)
		id := w.customers[rng.IntN(len(w.customers))]
		m := nats.NewMsg(subjectOf(id))
		m.Header.Set(nats.MsgIdHdr, fmt.Sprintf("cmd-%d", k))
		m.Data = fmt.Appendf(nil, `{"number":"%d"}`, k)
		if _, err := w.js.PublishMsgAsync(m); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-w.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("backlog not stored")
	}
}

// usage is the process's CPU time and allocations so far.
type usage struct {
	cpu    time.Duration
	allocs uint64
}

func measure() usage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return usage{
		cpu:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		allocs: ms.Mallocs,
	}
}

// run is one measured run: commands per second, CPU time and allocations
// per command (of the whole process: NATS server and simulator included).
type run struct {
	rate         float64
	cpuPerCmd    time.Duration
	allocsPerCmd float64
	elapsed      time.Duration
}

func (w *benchWorld) timed(n int, body func()) run {
	before, start := measure(), time.Now()
	body()
	elapsed, after := time.Since(start), measure()
	return run{
		rate:         float64(n) / elapsed.Seconds(),
		cpuPerCmd:    (after.cpu - before.cpu) / time.Duration(n),
		allocsPerCmd: float64(after.allocs-before.allocs) / float64(n),
		elapsed:      elapsed,
	}
}

// floor is the least a bridge must do per command, at the same
// concurrency: consume a stored update, send it to the CRM, store a
// result, ack. No validation, no ordering, no dead letters. It is timed
// from the first publish of n commands to the last ack.
func (w *benchWorld) floor(b *testing.B, n int) run {
	b.Helper()
	round := w.seq.Load()
	prefix := fmt.Sprintf("floor.%d", round)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cons, err := w.js.CreateConsumer(ctx, "FLOOR", jetstream.ConsumerConfig{
		FilterSubject: prefix + ".cmd.*", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: benchConcurrency,
	})
	if err != nil {
		b.Fatal(err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(benchConcurrency))
	if err != nil {
		b.Fatal(err)
	}
	defer it.Stop()
	var done sync.WaitGroup
	done.Add(n)
	msgs := make(chan jetstream.Msg)
	for range benchConcurrency {
		go func() {
			for msg := range msgs {
				var p crm.UpdateParams
				_ = json.Unmarshal(msg.Data(), &p)
				id, _ := streams.DecodeToken(msg.Subject()[len(prefix)+5:])
				err := w.client.Update(ctx, id, p)
				res := fmt.Appendf(nil, `{"commandId":%q,"status":"applied","error":%q}`, msg.Headers().Get(nats.MsgIdHdr), fmt.Sprint(err))
				if _, err := w.js.Publish(ctx, prefix+".result", res); err != nil {
					b.Error(err)
				}
				_ = msg.Ack()
				done.Done()
			}
		}()
	}
	go func() {
		defer close(msgs)
		for {
			msg, err := it.Next()
			if err != nil {
				return
			}
			msgs <- msg
		}
	}()
	return w.timed(n, func() {
		w.publishBacklog(b, n, func(id string) string { return prefix + ".cmd." + streams.EncodeToken(id) })
		done.Wait()
	})
}

// bridge publishes n commands to a running processor and is timed from
// the first publish to the last result.
func (w *benchWorld) bridge(b *testing.B, n int) run {
	b.Helper()
	results, err := w.nc.SubscribeSync(w.subj.Result())
	if err != nil {
		b.Fatal(err)
	}
	defer results.Unsubscribe()
	return w.timed(n, func() {
		w.publishBacklog(b, n, w.subj.Update)
		for range n {
			if _, err := results.NextMsg(time.Minute); err != nil {
				b.Fatalf("waiting for results: %v", err)
			}
		}
	})
}

// startProcessor starts the bridge's processor at benchConcurrency.
func (w *benchWorld) startProcessor(b *testing.B) {
	b.Helper()
	p, err := New(w.nc, w.js, w.client, Config{Prefix: "crm", Concurrency: benchConcurrency})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			b.Error(err)
		}
	})
}

// BenchmarkCommands compares the bridge's throughput with the floor's, in
// the same run: see docs/performance.md. One op is three rounds of a
// backlog of commands through the floor and then through the bridge.
func BenchmarkCommands(b *testing.B) {
	for _, tc := range []struct {
		latency time.Duration
		n       int
	}{
		{0, 5_000},
		{20 * time.Millisecond, 6_400},
	} {
		b.Run(fmt.Sprintf("crm_latency=%v", tc.latency), func(b *testing.B) {
			w := newBenchWorld(b, tc.latency)
			w.startProcessor(b)
			// Floor and bridge alternate, rounds times per op, so that both
			// see the same machine; the medians of all rounds are reported.
			const rounds = 3
			var floors, bridges []run
			for b.Loop() {
				for range rounds {
					floors = append(floors, w.floor(b, tc.n))
					bridges = append(bridges, w.bridge(b, tc.n))
				}
			}
			f, br := median(floors), median(bridges)
			b.ReportMetric(f.rate, "floor-cmd/s")
			b.ReportMetric(br.rate, "cmd/s")
			b.ReportMetric(br.rate/f.rate, "ratio")
			b.ReportMetric(float64(f.cpuPerCmd.Microseconds()), "floor-cpu-µs/cmd")
			b.ReportMetric(float64(br.cpuPerCmd.Microseconds()), "cpu-µs/cmd")
			b.ReportMetric(f.allocsPerCmd, "floor-allocs/cmd")
			b.ReportMetric(br.allocsPerCmd, "allocs/cmd")
		})
	}
}

func median(runs []run) run {
	s := slices.Clone(runs)
	slices.SortFunc(s, func(a, b run) int {
		switch {
		case a.rate < b.rate:
			return -1
		case a.rate > b.rate:
			return 1
		}
		return 0
	})
	return s[len(s)/2]
}

// BenchmarkCommandLatency publishes 1,000 commands per second and reports
// the time from publish to result, p50 and p99.
func BenchmarkCommandLatency(b *testing.B) {
	w := newBenchWorld(b, 0)
	w.startProcessor(b)
	var mu sync.Mutex
	sent := map[string]time.Time{}
	var latencies []time.Duration
	sub, err := w.nc.Subscribe(w.subj.Result(), func(m *nats.Msg) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if t, ok := sent[m.Header.Get(HeaderCommandID)]; ok {
			latencies = append(latencies, now.Sub(t))
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	const perSecond, seconds = 1000, 3
	rng := rand.New(rand.NewPCG(9, 9))
	for b.Loop() {
		mu.Lock()
		latencies = latencies[:0]
		clear(sent)
		mu.Unlock()
		tick := time.NewTicker(time.Second / perSecond)
		for i := range perSecond * seconds {
			<-tick.C
			k := w.seq.Add(1)
			id := fmt.Sprintf("lat-%d", k)
			m := nats.NewMsg(w.subj.Update(w.customers[rng.IntN(len(w.customers))]))
			m.Header.Set(nats.MsgIdHdr, id)
			m.Data = fmt.Appendf(nil, `{"number":"%d"}`, k)
			mu.Lock()
			sent[id] = time.Now()
			mu.Unlock()
			if _, err := w.js.PublishMsgAsync(m); err != nil {
				b.Fatal(err)
			}
			_ = i
		}
		tick.Stop()
		deadline := time.Now().Add(time.Minute)
		for {
			mu.Lock()
			got := len(latencies)
			mu.Unlock()
			if got >= perSecond*seconds || time.Now().After(deadline) {
				break
			}
			runtime.Gosched()
			<-time.After(10 * time.Millisecond)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(latencies)
	if len(latencies) == 0 {
		b.Fatal("no results")
	}
	b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
}
