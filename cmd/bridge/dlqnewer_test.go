package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/streams"
)

// A replayed update or delete goes behind the commands for its customer
// stored after it: replay warns of each such dead letter before replaying
// (also when a dead-lettered command follows the newer one: x1), and of no
// other (no newer command, only a newer one that was dead-lettered too, or
// a create).
func TestDLQReplayWarnsOfNewerCommands(t *testing.T) {
	vars, js := clientStreams(t, embedded.Options{})
	s := streams.Subjects{Prefix: "crm"}
	ctx := context.Background()
	publish := func(subject, id string) uint64 { // the command's stream sequence
		t.Helper()
		m := nats.NewMsg(subject)
		if id != "" {
			m.Header.Set(nats.MsgIdHdr, id)
		}
		m.Data = []byte(`{"number":"1"}`)
		ack, err := js.PublishMsg(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	publish(s.Update("cus_1"), "u1")
	publish(s.Update("cus_2"), "v1")
	d1 := strconv.FormatUint(publish(s.Delete("cus_3"), ""), 10) // its id: its stream sequence
	publish(s.Update("cus_4"), "w1")
	publish(s.Update("cus_1"), "u2")
	publish(s.Update("cus_3"), "d2")
	publish(s.Update("cus_4"), "w2")
	publish(s.Update("cus_5"), "x1")
	publish(s.Update("cus_5"), "x2") // applied
	publish(s.Update("cus_5"), "x3")
	letter := func(op, id, original string) dlqLetter {
		return dlqLetter{op: op, id: id, status: "failed", reason: "CRM_UNAVAILABLE: x", original: original, body: []byte(`{"number":"1"}`)}
	}
	seqs := storeLetters(t, js,
		letter("update", "u1", s.Update("cus_1")),
		letter("update", "v1", s.Update("cus_2")),
		letter("delete", d1, s.Delete("cus_3")),
		letter("update", "w1", s.Update("cus_4")),
		letter("update", "w2", s.Update("cus_4")),
		letter("create", "c1", s.Create()),
		letter("update", "x1", s.Update("cus_5")),
		letter("update", "x3", s.Update("cus_5")),
	)

	_, errOut := dlqOK(t, vars, "dlq", "replay", "--all", "--dry-run")
	for _, want := range []string{
		fmt.Sprintf("dlq replay: WARNING: seq %d command u1: customer cus_1 has newer commands in CRM_COMMANDS, the last u2 stored ", seqs[0]),
		fmt.Sprintf("dlq replay: WARNING: seq %d command %s: customer cus_3 has newer commands in CRM_COMMANDS, the last d2 stored ", seqs[2], d1),
		fmt.Sprintf("dlq replay: WARNING: seq %d command x1: customer cus_5 has newer commands in CRM_COMMANDS, the last x2 stored ", seqs[6]),
		"dlq replay: WARNING: 3 of 8 dead letters may go behind newer commands for their customer (above)\n",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr: got\n%s\nwant %q", errOut, want)
		}
	}
	for _, id := range []string{"v1", "w1", "w2", "c1", "x3"} {
		if strings.Contains(errOut, " command "+id+":") {
			t.Errorf("stderr warns of %s, want no warning:\n%s", id, errOut)
		}
	}

	out, errOut := dlqOK(t, vars, "dlq", "replay", "u1", "v1")
	if want := fmt.Sprintf("seq %d command u1: customer cus_1 has newer commands", seqs[0]); !strings.Contains(errOut, want) || strings.Contains(errOut, "command v1:") {
		t.Errorf("stderr: got\n%s\nwant %q and no warning of v1", errOut, want)
	}
	if !strings.Contains(out, "command u1: replayed as u1-replay-1") || !strings.Contains(out, "command v1: replayed as v1-replay-1") {
		t.Errorf("stdout: got\n%s\nwant u1 and v1 replayed", out)
	}
}
