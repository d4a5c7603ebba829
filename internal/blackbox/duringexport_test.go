package blackbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/poller"
	"github.com/gormic/crm-bridge/internal/proctest"
)

// duringExportScenario times an incremental poll that finds n changes
// while a complete export runs in the background (issue 13: "this holds
// always: right after a first start, and while a complete export runs"):
// over customers (a simulator with pages of page and latency added to
// every request), after a silent first start of a bridge polling every
// second, each round asks for a resync, changes n customers through the
// CRM's API once it reads the export's pages, and times the poll that
// finds them (duringRound). A try in which the complete export ended
// before that poll did, or a poll that began before the changes were all
// made published some of them, is taken again (at most twice).
func duringExportScenario(tb testing.TB, customers, n, rounds, page int, latency time.Duration) *table {
	tb.Helper()
	_, crmURL := startSim(tb, customers, latency, "--page-size", fmt.Sprint(page))
	_, natsURL := startNATS(tb)
	nc, js := connect(tb, natsURL)
	b := startBridge(tb, natsURL, crmURL, false, "BRIDGE_POLL_INTERVAL=1s", "BRIDGE_LOG_LEVEL=debug")
	defer b.Stop(tb, time.Minute)
	settled(tb, b)
	ids := customerIDs(tb, crmURL)
	client := crmClient(tb, crmURL)
	rng := rand.New(rand.NewPCG(7, uint64(customers)))
	t := &table{title: fmt.Sprintf("a poll finding %d changes among %d customers while a complete export (a resync) runs, pages of %d", n, customers, page)}
	fresh := t.add("poll's start to last event stored (s)", false, "≤ 1 s")
	t.slowest(fresh, "≤ 1 s, always")
	for r := range rounds {
		for try := 0; ; try++ {
			secs, note, ok := duringRound(tb, b, nc, js, client, pickIDs(ids, rng.Perm(len(ids))[:n]), fmt.Sprintf("X%dT%d", r, try))
			if ok {
				fresh.put("bridge", secs)
				t.note("round %d: %.2f s; %s", r+1, secs, note)
				break
			}
			tb.Logf("round %d, try %d: %s", r+1, try+1, note)
			if try == 2 {
				tb.Fatalf("round %d: three tries in vain; the last: %s", r+1, note)
			}
		}
	}
	if latency > 0 {
		t.note("the simulator adds %v to every request", latency)
	}
	t.note("time: from the start of the incremental poll that found the changes (its poll done line, kind changes, less took) to the stored time of the last of their events")
	return t
}

// duringRound asks for a resync, waits until it reads the export's pages
// (a progress report with pages; it first reads the read model) and for
// an incremental poll to be done, changes the customers ids (first name:
// name and the id), and waits for their events. It returns the seconds
// from the start of the first incremental poll that began after the
// changes to the stored time of the last event, a note on the polls, and
// whether the round counts: that poll published some of the events, no
// poll that began before published any, and the complete export had not
// ended (its "resync done" line) when that poll did. It returns once the
// complete export is over.
func duringRound(tb testing.TB, b *proctest.Proc, nc *nats.Conn, js jetstream.JetStream, client *crm.Client, ids []string, name string) (float64, string, bool) {
	tb.Helper()
	before, err := eventsState(js)
	if err != nil {
		tb.Fatal(err)
	}
	polls, resyncs := len(logLines(b, "poll done")), len(logLines(b, "resync done"))
	rs := startResync(tb, nc)
	proctest.WaitFor(tb, b, 10*time.Minute, 5*time.Millisecond, "the complete export to read its pages", func() bool {
		return rs.pages.Load() > 0 || rs.ended.Load()
	})
	// Right after an incremental poll, so that the next one begins after
	// the changes, as a rule.
	k := len(logLines(b, "poll done"))
	proctest.WaitFor(tb, b, time.Minute, 5*time.Millisecond, "an incremental poll beside the complete export", func() bool {
		return len(changesPolls(logLines(b, "poll done")[k:])) > 0
	})
	changeAll(tb, client, ids, name)
	changed, page := time.Now(), rs.pages.Load()
	var st jetstream.StreamState
	proctest.WaitFor(tb, b, 2*time.Minute, 20*time.Millisecond, fmt.Sprintf("%d events", len(ids)), func() bool {
		st, err = eventsState(js)
		return err == nil && st.Msgs >= before.Msgs+uint64(len(ids))
	})
	var timed logLine
	proctest.WaitFor(tb, b, time.Minute, 20*time.Millisecond, "the poll after the changes to be done", func() bool {
		for _, l := range changesPolls(logLines(b, "poll done")[polls:]) {
			if !pollStart(tb, l).Before(changed) {
				timed = l
				return true
			}
		}
		return false
	})
	rs.wait(tb, b)
	note, ok := duringVerdict(tb, b, timed, changed, polls, resyncs)
	return st.LastTime.Sub(pollStart(tb, timed)).Seconds(), fmt.Sprintf("the complete export past page %d when the changes were made; %s", page, note), ok
}

// duringVerdict says whether a round of duringRound counts, and why, and
// describes its polls.
func duringVerdict(tb testing.TB, b *proctest.Proc, timed logLine, changed time.Time, polls, resyncs int) (string, bool) {
	tb.Helper()
	note := fmt.Sprintf("the poll: %d pages, %d records, %d events, took %s", timed.Pages, timed.Records, timed.Events, timed.Took)
	for _, l := range changesPolls(logLines(b, "poll done")[polls:]) {
		if pollStart(tb, l).Before(changed) && l.Events > 0 {
			return note + fmt.Sprintf("; a poll that began before the changes were all made published %d events", l.Events), false
		}
	}
	if timed.Events == 0 {
		return note + "; the complete export published every event", false
	}
	ended := logLines(b, "resync done")[resyncs:]
	if len(ended) == 0 {
		tb.Fatal(`the resync is over, but the bridge logged no "resync done"`)
	}
	if !ended[0].Time.After(timed.Time) {
		return note + fmt.Sprintf("; the complete export ended %s before the poll did", timed.Time.Sub(ended[0].Time)), false
	}
	return note + fmt.Sprintf("; the complete export ended %s after it", ended[0].Time.Sub(timed.Time).Round(time.Millisecond)), true
}

// changesPolls are the incremental polls' lines of ls.
func changesPolls(ls []logLine) []logLine {
	var out []logLine
	for _, l := range ls {
		if l.Kind == "changes" {
			out = append(out, l)
		}
	}
	return out
}

// resync is a resync asked for and followed in a goroutine.
type resync struct {
	pages atomic.Int64 // as of the last progress report
	ended atomic.Bool
	done  chan error
}

// startResync asks the active poller for a resync (bridge resync's
// request, poller.ResyncClient) and follows it in a goroutine. A request
// that cannot begin (a complete export under way makes it wait, 30 s at
// most) is made again, up to 10 times.
func startResync(tb testing.TB, nc *nats.Conn) *resync {
	tb.Helper()
	rs := &resync{done: make(chan error, 1)}
	go func() {
		defer rs.ended.Store(true)
		c := poller.ResyncClient{NC: nc, Prefix: "crm"}
		var err error
		for range 10 {
			if _, err = c.Run(context.Background(), rs.progress); err == nil {
				break
			}
		}
		rs.done <- err
	}()
	return rs
}

// progress notes a progress report.
func (rs *resync) progress(p poller.ResyncProgress) {
	rs.pages.Store(int64(p.Pages))
}

// wait waits for the resync to end, and fails tb if it failed.
func (rs *resync) wait(tb testing.TB, b *proctest.Proc) {
	tb.Helper()
	proctest.WaitFor(tb, b, 30*time.Minute, 20*time.Millisecond, "the resync to end", rs.ended.Load)
	if err := <-rs.done; err != nil {
		tb.Fatalf("resync: %v", err)
	}
}
