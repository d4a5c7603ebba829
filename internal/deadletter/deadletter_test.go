package deadletter

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/schemas"
)

var subj = streams.Subjects{Prefix: "crm"}

// queue starts NATS with the bridge's streams and returns a Queue on it.
func queue(t *testing.T) Queue {
	t.Helper()
	_, js := natstest.Connect(t, natstest.Server(t))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.Ensure(ctx, js, streams.Config{Prefix: "crm", Replicas: 1, Partitions: streams.CommandPartitions}); err != nil {
		t.Fatal(err)
	}
	return Queue{JS: js, Subjects: subj, Timeout: 10 * time.Second}
}

// store writes the dead letters of cmds, as the processor does, and
// returns their stream sequences.
func store(t *testing.T, q Queue, cmds ...Command) []uint64 {
	t.Helper()
	seqs := make([]uint64, len(cmds))
	for i, c := range cmds {
		ack, err := q.JS.PublishMsg(context.Background(), Message(context.Background(), subj, c))
		if err != nil {
			t.Fatalf("store the dead letter of %s: %v", c.ID, err)
		}
		seqs[i] = ack.Sequence
	}
	return seqs
}

func rejected(id, subject string, h nats.Header) Command {
	op, _, err := subj.ParseCommand(subject)
	if err != nil {
		op = streams.OpUnknown
	}
	return Command{ID: id, Op: op, Subject: subject, Header: h, Data: []byte(`{"firstName":"Ada"}`), Status: "rejected", Reason: "VALIDATION: phone is required"}
}

// A command's JetStream headers, any case, would make CRM_DLQ refuse its
// dead letter: they are left out, the command's own headers kept, and the
// dead letter reads back as written.
func TestMessageStoredAndRead(t *testing.T) {
	q := queue(t)
	h := nats.Header{
		"Nats-Expected-Stream": {"CRM_COMMANDS"}, "nats-expected-last-sequence": {"1"}, "NATS-ROLLUP": {"sub"},
		nats.MsgIdHdr: {"c-1"}, "Reply-To": {"_INBOX.x"}, "X-Tenant": {"acme"},
	}
	seqs := store(t, q, rejected("c-1", subj.Create(), h), rejected("u-1", subj.Update("cus_1"), nil))
	letters, err := q.All(context.Background())
	if err != nil || len(letters) != 2 {
		t.Fatalf("got %d dead letters, %v; want 2", len(letters), err)
	}
	l := letters[0]
	if err := schemas.ValidateDeadLetter(l.Header); err != nil {
		t.Errorf("headers: got %v, want valid", err)
	}
	for k := range l.Header {
		if strings.HasPrefix(strings.ToLower(k), "nats-") && k != nats.MsgIdHdr {
			t.Errorf("got header %s, want no Nats-* header but Nats-Msg-Id", k)
		}
	}
	got := []string{l.Header.Get(nats.MsgIdHdr), l.CommandID(), l.Op(), l.Status(), l.Reason(), l.OriginalSubject(), l.Header.Get("Reply-To"), l.Header.Get("X-Tenant"), string(l.Data)}
	want := []string{"dlq-c-1", "c-1", "create", "rejected", "VALIDATION: phone is required", "crm.customer.create", "_INBOX.x", "acme", `{"firstName":"Ada"}`}
	if strings.Join(got, "|") != strings.Join(want, "|") || l.Seq != seqs[0] {
		t.Errorf("got %q at %d, want %q at %d", got, l.Seq, want, seqs[0])
	}
	if c := letters[1].CustomerID(subj); c != "cus_1" || letters[1].Op() != "update" {
		t.Errorf("second: got customer %q op %q, want cus_1 update", c, letters[1].Op())
	}

	// Read by op, and stopped early: total is what the filter held.
	n := 0
	total, err := q.Read(context.Background(), "update", func(Letter) bool { n++; return false })
	if err != nil || total != 1 || n != 1 {
		t.Errorf("read updates: got total %d, %d read, %v; want 1, 1", total, n, err)
	}
}

// The trace context of the command's span replaces the command's own.
func TestMessageTraceContext(t *testing.T) {
	h := nats.Header{"Traceparent": {"garbage"}, "TraceState": {"a=b"}}
	m := Message(context.Background(), subj, rejected("c-1", subj.Create(), h))
	for k := range m.Header {
		if strings.EqualFold(k, "traceparent") || strings.EqualFold(k, "tracestate") {
			t.Errorf("got %s, want the command's trace context left out without a span", k)
		}
	}
}

func TestReadWithoutStream(t *testing.T) {
	_, js := natstest.Connect(t, natstest.Server(t))
	_, err := Queue{JS: js, Subjects: subj, Timeout: 5 * time.Second}.All(context.Background())
	if !errors.Is(err, jetstream.ErrStreamNotFound) || !strings.Contains(err.Error(), "has a bridge run") {
		t.Errorf("got %v, want ErrStreamNotFound that says why", err)
	}
}

func TestLineage(t *testing.T) {
	tests := []struct {
		name, id, replayOf string
		wantID, wantOf     string
	}{
		{"original", "8d1c", "", "8d1c-replay-1", "8d1c"},
		{"first replay", "8d1c-replay-1", "8d1c", "8d1c-replay-2", "8d1c"},
		{"tenth replay", "8d1c-replay-10", "8d1c", "8d1c-replay-11", "8d1c"},
		{"stream sequence id", "1042", "", "1042-replay-1", "1042"},
		{"looks like a replay, is none", "x-replay-3", "", "x-replay-3-replay-1", "x-replay-3"},
		{"Replay-Of of another", "y-replay-1", "z", "y-replay-1-replay-1", "y-replay-1"},
		{"not a number", "x-replay-two", "x", "x-replay-two-replay-1", "x-replay-two"},
		{"leading zero", "x-replay-01", "x", "x-replay-01-replay-1", "x-replay-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := nats.Header{HeaderCommandID: {tt.id}}
			if tt.replayOf != "" {
				h.Set(HeaderReplayOf, tt.replayOf)
			}
			id, of := Letter{Header: h}.ReplayID()
			if id != tt.wantID || of != tt.wantOf {
				t.Errorf("got %s, Replay-Of %s; want %s, Replay-Of %s", id, of, tt.wantID, tt.wantOf)
			}
		})
	}
}

func TestChoose(t *testing.T) {
	letter := func(seq uint64, id string) Letter {
		return Letter{Seq: seq, Header: nats.Header{HeaderCommandID: {id}}}
	}
	letters := []Letter{letter(3, "a"), letter(5, "7"), letter(7, "b"), letter(9, "a")}
	tests := []struct {
		name        string
		sel         []string
		all         bool
		want        []uint64
		wantMissing []string
	}{
		{"all", nil, true, []uint64{3, 5, 7, 9}, nil},
		{"by sequence, in stream order", []string{"7", "3"}, false, []uint64{3, 7}, nil},
		{"by command id, each of it", []string{"a"}, false, []uint64{3, 9}, nil},
		{"digits that are no sequence: a command id", []string{"8"}, false, nil, []string{"8"}},
		{"missing and empty", []string{"zz", "", "b"}, false, []uint64{7}, []string{"zz", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chosen, missing := Choose(letters, tt.sel, tt.all)
			var got []uint64
			for _, l := range chosen {
				got = append(got, l.Seq)
			}
			if !slices.Equal(got, tt.want) || !slices.Equal(missing, tt.wantMissing) {
				t.Errorf("got %v, missing %q; want %v, missing %q", got, missing, tt.want, tt.wantMissing)
			}
		})
	}
}

// A replay republishes each command with its own headers, a new id and
// Replay-Of, removes its dead letter, and reports in the plan's order; a
// dead letter whose command was replayed deeper already is only removed,
// and one that cannot be replayed is kept.
func TestReplay(t *testing.T) {
	q := queue(t)
	old := rejected("u-1", subj.Update("cus_1"), nil)
	deeper := rejected("u-1-replay-1", subj.Update("cus_1"), nats.Header{HeaderReplayOf: {"u-1"}})
	store(t, q,
		rejected("c-1", subj.Create(), nats.Header{"Reply-To": {"_INBOX.x"}, "Nats-Expected-Stream": {"CRM_COMMANDS"}}),
		old, deeper,
		rejected("bad", "elsewhere.customer.create", nil),
	)
	letters, err := q.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	plan := PlanReplays(letters, letters, subj)
	st, err := q.Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reports []Report
	r := &Replayer{JS: q.JS, Stream: st, Timeout: 10 * time.Second, Report: func(r Report) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, r)
	}}
	r.Run(context.Background(), plan)
	want := []struct {
		outcome Outcome
		how     string
	}{
		{Replayed, "replayed as c-1-replay-1 to crm.customer.create"},
		{Removed, "replayed already: u-1-replay-1 is dead letter 3; dead letter removed"},
		{Replayed, "replayed as u-1-replay-2 to crm.customer.update.cus_1"},
		{Kept, `its Original-Subject "elsewhere.customer.create" is not a command subject under the prefix "crm"`},
	}
	if len(reports) != len(want) {
		t.Fatalf("got %d reports, want %d", len(reports), len(want))
	}
	for i, w := range want {
		if got := reports[i]; got.Index != i || got.Outcome != w.outcome || got.How != w.how {
			t.Errorf("report %d: got %d %v %q, want %v %q", i, got.Index, got.Outcome, got.How, w.outcome, w.how)
		}
	}
	left, err := q.All(context.Background())
	if err != nil || len(left) != 1 || left[0].CommandID() != "bad" {
		t.Errorf("left: got %d dead letters, %v; want bad alone", len(left), err)
	}
	cmds := natstest.Messages(t, q.JS, streams.Commands, "crm.customer.>")
	if len(cmds) != 2 {
		t.Fatalf("got %d commands, want 2", len(cmds))
	}
	h := cmds[0].Headers()
	if h.Get(nats.MsgIdHdr) != "c-1-replay-1" || h.Get(HeaderReplayOf) != "c-1" || h.Get("Reply-To") != "_INBOX.x" ||
		h.Get(HeaderCommandID) != "" || h.Get(HeaderStatus) != "" || h.Get(HeaderOriginalSubject) != "" || h.Get("Nats-Expected-Stream") != "" {
		t.Errorf("replayed command's headers: got %v", h)
	}
	if h := cmds[1].Headers(); h.Get(nats.MsgIdHdr) != "u-1-replay-2" || h.Get(HeaderReplayOf) != "u-1" {
		t.Errorf("replay of u-1-replay-1: got %v, want u-1-replay-2 of u-1", h)
	}

	// A dead letter gone meanwhile: Remove says so.
	if err := Remove(context.Background(), st, plan[0].Letter.Seq); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("remove again: got %v, want ErrMsgNotFound", err)
	}
}

// An update goes behind a newer command of its customer: warned of; the
// customer's own replays and dead-lettered commands do not count.
func TestNewer(t *testing.T) {
	q := queue(t)
	publish := func(subject, id string, h nats.Header) {
		t.Helper()
		m := nats.NewMsg(subject)
		for k, v := range h {
			m.Header[k] = v
		}
		m.Header.Set(nats.MsgIdHdr, id)
		if _, err := q.JS.PublishMsg(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	publish(subj.Update("cus_1"), "u-1", nil)
	publish(subj.Update("cus_1"), "u-2", nil)
	publish(subj.Update("cus_2"), "v-1", nil)
	publish(subj.Update("cus_2"), "v-1-replay-1", nats.Header{HeaderReplayOf: {"v-1"}})
	store(t, q, rejected("u-1", subj.Update("cus_1"), nil), rejected("v-1", subj.Update("cus_2"), nil), rejected("c-1", subj.Create(), nil))
	letters, err := q.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	warnings := Newer(context.Background(), q.JS, PlanReplays(letters, letters, subj), letters, subj, 10*time.Second)
	if len(warnings) != 3 || !strings.HasPrefix(warnings[0], "customer cus_1 has newer commands in CRM_COMMANDS, the last u-2 stored ") ||
		warnings[1] != "" || warnings[2] != "" {
		t.Errorf("got %q, want a warning for u-1 alone", warnings)
	}
}

// Queue.Replay: a dry run reports and changes nothing; a replay reports,
// republishes and removes; without CRM_DLQ it fails, and replays nothing.
func TestQueueReplay(t *testing.T) {
	q := queue(t)
	store(t, q, rejected("c-1", subj.Create(), nil))
	letters, err := q.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	plan := PlanReplays(letters, letters, subj)
	var got []string
	report := func(r Report) { got = append(got, r.Line()) }
	if err := q.Replay(context.Background(), plan, true, report); err != nil || len(got) != 1 || got[0] != "seq 1 command c-1: would be replayed as c-1-replay-1 to crm.customer.create" {
		t.Fatalf("dry run: got %q, %v; want c-1 would be replayed", got, err)
	}
	if left, err := q.All(context.Background()); err != nil || len(left) != 1 {
		t.Fatalf("after the dry run: got %d dead letters, %v; want 1", len(left), err)
	}
	got = nil
	if err := q.Replay(context.Background(), plan, false, report); err != nil || len(got) != 1 || got[0] != "seq 1 command c-1: replayed as c-1-replay-1 to crm.customer.create" {
		t.Fatalf("replay: got %q, %v; want c-1 replayed", got, err)
	}
	if left, err := q.All(context.Background()); err != nil || len(left) != 0 {
		t.Errorf("after the replay: got %d dead letters, %v; want none", len(left), err)
	}
	if err := q.JS.DeleteStream(context.Background(), streams.DLQ); err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := q.Replay(context.Background(), plan, false, report); !errors.Is(err, jetstream.ErrStreamNotFound) || len(got) != 0 {
		t.Errorf("without CRM_DLQ: got %q, %v; want ErrStreamNotFound and no report", got, err)
	}
}

// A body that is not UTF-8 is bodyBase64 in a Record.
func TestRecord(t *testing.T) {
	l := Letter{Seq: 7, Subject: "crm.customer.dlq.update", Data: []byte{0xff, 0x00},
		Header: nats.Header{HeaderCommandID: {"u-1"}, HeaderOriginalSubject: {subj.Update("cus_1")}}}
	r := l.Record(subj)
	if r.Body != nil || r.BodyBase64 != "/wA=" || r.CustomerID != "cus_1" || r.Op != "update" || r.CommandID != "u-1" {
		t.Errorf("got %+v", r)
	}
	if r := (Letter{Subject: "crm.customer.dlq.create", Data: []byte("{}")}).Record(subj); r.Headers == nil || r.Body == nil || *r.Body != "{}" {
		t.Errorf("got %+v, want empty headers and the body", r)
	}
}

// Discard removes the chosen dead letters, says which were gone already,
// and removes nothing once its context ends.
func TestDiscard(t *testing.T) {
	q := queue(t)
	store(t, q, rejected("a", subj.Create(), nil), rejected("b", subj.Create(), nil), rejected("c", subj.Create(), nil))
	letters, err := q.All(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st, err := q.Stream(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteMsg(context.Background(), letters[0].Seq); err != nil {
		t.Fatal(err)
	}
	got := map[string]error{}
	Discard(context.Background(), st, letters[:2], 5*time.Second, func(l Letter, err error) { got[l.CommandID()] = err })
	if !errors.Is(got["a"], jetstream.ErrMsgNotFound) || got["b"] != nil || len(got) != 2 {
		t.Errorf("got %v, want a gone already and b removed", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	Discard(ctx, st, letters[2:], 5*time.Second, func(l Letter, err error) { got[l.CommandID()] = err })
	if !errors.Is(got["c"], context.Canceled) {
		t.Errorf("after the context ended: got %v for c, want context.Canceled", got["c"])
	}
	if left, err := q.All(context.Background()); err != nil || len(left) != 1 || left[0].CommandID() != "c" {
		t.Errorf("left: got %d, %v; want c alone", len(left), err)
	}
}

// A replay stored already (a crash between its republish and the
// removal) is dropped as a duplicate, and the dead letter removed; one
// that no stream stores is kept.
func TestReplayDuplicateAndUnstored(t *testing.T) {
	q := queue(t)
	store(t, q, rejected("k1", subj.Update("cus_1"), nil))
	m := nats.NewMsg(subj.Update("cus_1"))
	m.Header.Set(nats.MsgIdHdr, "k1-replay-1")
	if _, err := q.JS.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	replay := func() Report {
		t.Helper()
		letters, err := q.All(context.Background())
		if err != nil || len(letters) != 1 {
			t.Fatalf("got %d dead letters, %v; want 1", len(letters), err)
		}
		st, err := q.Stream(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var got []Report
		r := Replayer{JS: q.JS, Stream: st, Timeout: 3 * time.Second, Report: func(r Report) { got = append(got, r) }}
		r.Run(context.Background(), PlanReplays(letters, letters, subj))
		if len(got) != 1 {
			t.Fatalf("got %d reports, want 1", len(got))
		}
		return got[0]
	}
	if r := replay(); r.Outcome != Removed || r.How != "k1-replay-1 was stored already, by an earlier replay; dead letter removed" {
		t.Errorf("duplicate: got %v %q", r.Outcome, r.How)
	}

	store(t, q, rejected("k2", subj.Update("cus_2"), nil))
	if err := q.JS.DeleteStream(context.Background(), streams.Commands); err != nil {
		t.Fatal(err)
	}
	if r := replay(); r.Outcome != Kept || !strings.Contains(r.How, "k2-replay-1") || !strings.HasSuffix(r.How, "dead letter kept") {
		t.Errorf("unstored: got %v %q, want kept", r.Outcome, r.How)
	}
	if left, err := q.All(context.Background()); err != nil || len(left) != 1 {
		t.Errorf("got %d dead letters, %v; want k2's kept", len(left), err)
	}
}
