package blackbox

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/proctest"
)

// legacyRev is a bridge that keeps the poller's state in the key-value
// bucket crm_bridge_poller, as every bridge did before the state moved to
// the stream CRM_POLLER (4f5e3ba): scenario 8's baseline, so that one
// build serves both. BENCH_BASELINE_REV does not change it.
const legacyRev = baselineRev

// The current poller's log lines as it migrates (internal/poller,
// migrate.go): the start (with the bucket's messages) and the end (with
// the entries copied and how long the copy took).
const (
	migratingMsg = "poller migrating its state from the key-value bucket to the stream"
	migratedMsg  = "poller state migrated"
)

// migrateScenario times the upgrade of a bridge whose poller state is in
// the former key-value bucket. Each round, on a new nats-server store,
// the bridge at legacyRev makes a silent first sync over customers and
// stops; nats-server restarts on the same store (its caches cold, as
// after an upgrade's restarts), and the current bridge starts on it and
// copies the state into CRM_POLLER. It skips when that bridge cannot be
// built, as scenario 8 does.
func migrateScenario(tb testing.TB, customers, rounds int) []*table {
	tb.Helper()
	legacy := bridgeAt(tb, legacyRev)
	_, crmURL := startSim(tb, customers, 0)
	t := &table{title: fmt.Sprintf("migration of the former state (bucket crm_bridge_poller, left by a silent first "+
		"sync of the bridge at %s): %d customers, pages of %d", legacyRev, customers, benchPageSize)}
	sec := t.add("time to the migration done (s)", false, "")
	took := t.add("the copy alone (s)", false, "")
	cpu := t.add("bridge CPU (s)", false, "")
	rss := t.add("bridge peak RSS (MB)", false, "")
	ncpu := t.add("nats-server CPU (s)", false, "")
	nrss := t.add("nats-server peak RSS (MB)", false, "")
	for r := range rounds {
		m := migrateRound(tb, legacy, crmURL)
		sec.put("bridge", m.seconds)
		took.put("bridge", m.took)
		cpu.put("bridge", m.cpu)
		rss.put("bridge", m.rssMB)
		ncpu.put("bridge", m.natsCPU)
		nrss.put("bridge", m.natsMB)
		t.note("round %d: the bucket held %d messages; %d entries copied", r+1, m.messages, m.entries)
	}
	t.note("time: from the current bridge's start to its %q line; the copy: that line's took (from the %q line)", migratedMsg, migratingMsg)
	t.note("CPU and peak RSS: the current bridge's, and nats-server's since its restart, when that line is read")
	return []*table{t}
}

// migration is one round's figures.
type migration struct {
	seconds, took, cpu, rssMB, natsCPU, natsMB float64
	messages, entries                          int
}

// migrateRound makes the former state with the bridge legacy on a new
// store, restarts nats-server on it, and measures the current bridge's
// migration.
func migrateRound(tb testing.TB, legacy, crmURL string) migration {
	tb.Helper()
	dir, err := os.MkdirTemp("", "crm-bridge-blackbox-nats-")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(dir)
	n := &proctest.NATS{StoreDir: dir, Options: proctest.Options{LogDir: os.Getenv("BENCH_LOG_DIR"), LogAlways: true}}
	n.Start(tb)
	defer n.Stop(tb)
	// A long interval: one poll, whose end saves the cursor.
	old := startBridgeBin(tb, legacy, n.URL(), crmURL, false, "BRIDGE_POLL_INTERVAL=1h")
	proctest.WaitFor(tb, old, 60*time.Minute, 100*time.Millisecond, "the former bridge's first poll to be done", func() bool {
		return len(logLines(old, "poll done")) > 0
	})
	if err := old.Stop(tb, time.Minute); err != nil {
		tb.Fatalf("the former bridge's stop: %v", err)
	}
	n.Stop(tb)
	natsP := n.Start(tb)
	p := startBridge(tb, n.URL(), crmURL, false, "BRIDGE_POLL_INTERVAL=1h")
	defer p.Stop(tb, time.Minute)
	var done []logLine
	proctest.WaitFor(tb, p, 60*time.Minute, 20*time.Millisecond, "the migration to be done", func() bool {
		done = logLinesPrefix(p, migratedMsg)
		return len(done) > 0 || len(logLines(p, "poll done")) > 0
	})
	m := migration{
		cpu:     p.CPU(tb).Seconds(),
		rssMB:   float64(p.PeakRSS(tb)) / 1e6,
		natsCPU: natsP.CPU(tb).Seconds(),
		natsMB:  float64(natsP.PeakRSS(tb)) / 1e6,
	}
	if len(done) == 0 {
		tb.Fatal("the current bridge polled without migrating the former state")
	}
	d, err := time.ParseDuration(done[0].Took)
	if err != nil {
		tb.Fatalf("%q line's took %q: %v", migratedMsg, done[0].Took, err)
	}
	m.seconds, m.took, m.entries = done[0].Time.Sub(p.Started()).Seconds(), d.Seconds(), done[0].Entries
	if start := logLines(p, migratingMsg); len(start) > 0 {
		m.messages = start[0].Messages
	}
	return m
}

// logLinesPrefix is logLines of the lines whose msg starts with prefix.
func logLinesPrefix(b *proctest.Proc, prefix string) []logLine {
	var out []logLine
	for line := range strings.Lines(b.Output.String()) {
		if !strings.Contains(line, `"msg":"`+prefix) {
			continue
		}
		var l logLine
		if json.Unmarshal([]byte(line), &l) == nil && strings.HasPrefix(l.Msg, prefix) {
			out = append(out, l)
		}
	}
	return out
}
