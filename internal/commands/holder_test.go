package commands

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/natstest"
)

// A held command is not delivered again however long it is held, and
// once released it is, after its ack wait: the holder marks it in
// progress, from its second tick on, within the ack wait.
func TestHolderKeepsHeldCommands(t *testing.T) {
	const ackWait = time.Second
	_, js := natstest.Connect(t, natstest.Server(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "H", Subjects: []string{"h"}}); err != nil {
		t.Fatal(err)
	}
	cons, err := js.CreateConsumer(ctx, "H", jetstream.ConsumerConfig{AckPolicy: jetstream.AckExplicitPolicy, AckWait: ackWait})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "h", []byte("x")); err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	msg := <-batch.Messages()
	if msg == nil {
		t.Fatal("no message")
	}
	h := newHolder()
	done := make(chan struct{})
	defer close(done)
	h.hold(msg)
	go h.run(ackWait/3, done)

	// Held for three ack waits: nothing comes again.
	again, err := cons.Fetch(1, jetstream.FetchMaxWait(3*ackWait))
	if err != nil {
		t.Fatal(err)
	}
	if m := <-again.Messages(); m != nil {
		meta, _ := m.Metadata()
		t.Fatalf("held command delivered again (delivery %d)", meta.NumDelivered)
	}
	// Released: it comes back once its ack wait has run out.
	h.release(msg)
	again, err = cons.Fetch(1, jetstream.FetchMaxWait(5*ackWait))
	if err != nil {
		t.Fatal(err)
	}
	if m := <-again.Messages(); m == nil {
		t.Fatal("released command not delivered again")
	}
}
