package streams_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
)

func TestEnsureCreatesAndUpdates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := natstest.Connect(t, natstest.Server(t))

	// A stream left by an older version, with other limits.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: streams.Commands, Subjects: []string{"crm.customer.create"}, MaxAge: time.Hour}); err != nil {
		t.Fatal(err)
	}
	cfg := streams.Config{Prefix: "crm", Replicas: 1, Partitions: 4}
	for i := range 2 { // twice: Ensure is idempotent
		if err := streams.Ensure(ctx, js, cfg); err != nil {
			t.Fatalf("Ensure #%d: %v", i+1, err)
		}
	}
	want := map[string][]string{
		streams.Commands: {"crm.customer.create", "crm.customer.update.*", "crm.customer.delete.*"},
		streams.Events:   {"crm.customer.changed.*", "crm.customer.result"},
		streams.DLQ:      {"crm.customer.dlq.*"},
	}
	for name, subjects := range want {
		s, err := js.Stream(ctx, name)
		if err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
		got := s.CachedInfo().Config
		if !slices.Equal(got.Subjects, subjects) {
			t.Errorf("%s: got subjects %v, want %v", name, got.Subjects, subjects)
		}
		if got.Storage != jetstream.FileStorage || got.Replicas != 1 {
			t.Errorf("%s: got storage %v replicas %d, want file and 1", name, got.Storage, got.Replicas)
		}
	}
	s, _ := js.Stream(ctx, streams.Commands)
	if got := s.CachedInfo().Config.MaxAge; got != streams.CommandsMaxAge {
		t.Errorf("commands MaxAge: got %v, want %v (updated)", got, streams.CommandsMaxAge)
	}
	ev, _ := js.Stream(ctx, streams.Events)
	if got := ev.CachedInfo().Config.Duplicates; got != streams.EventsDuplicates {
		t.Errorf("events duplicate window: got %v, want %v", got, streams.EventsDuplicates)
	}
}

func TestEnsureReportsTheStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := natstest.Connect(t, natstest.Server(t))
	// Three replicas cannot be had on one server.
	err := streams.Ensure(ctx, js, streams.Config{Prefix: "crm", Replicas: 3, Partitions: 4})
	if err == nil {
		t.Fatal("got no error, want one for 3 replicas on a single server")
	}
	if want := "streams: create or update " + streams.Commands; !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want it to name %q", err, want)
	}
}

func TestCustomPrefix(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := natstest.Connect(t, natstest.Server(t))
	if err := streams.Ensure(ctx, js, streams.Config{Prefix: "acme", Replicas: 1, Partitions: 4}); err != nil {
		t.Fatal(err)
	}
	subj := streams.Subjects{Prefix: "acme"}
	ack, err := js.Publish(ctx, subj.Update("a.b*c"), []byte(`{}`))
	if err != nil {
		t.Fatalf("publish to %s: %v", subj.Update("a.b*c"), err)
	}
	if ack.Stream != streams.Commands {
		t.Errorf("got stream %s, want %s", ack.Stream, streams.Commands)
	}

}

func TestLayoutPartitionsByCustomer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, js := natstest.Connect(t, natstest.Server(t))
	cfg := streams.Config{Prefix: "crm", Replicas: 1, Partitions: 4}
	if err := streams.Ensure(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	subj := streams.Subjects{Prefix: "crm"}
	ids := []string{"cus_1", "cus_2", "cus_3", "a.b", "x*y", "cus_1"}
	for _, id := range ids {
		if _, err := js.Publish(ctx, subj.Update(id), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, subj.Delete(id), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(ctx, subj.Create(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, streams.Commands)
	layout := streams.Layout{Prefix: "crm", Partitions: 4}
	partitionOf := map[string]string{}
	for seq := uint64(1); seq <= uint64(2*len(ids)+1); seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		published := streams.Published(m.Subject)
		_, id, err := subj.ParseCommand(published)
		if err != nil {
			t.Fatalf("stored %q, published %q: %v", m.Subject, published, err)
		}
		if id == "" {
			if m.Subject != subj.Create() {
				t.Errorf("create stored as %q, want it unchanged", m.Subject)
			}
			continue
		}
		part := m.Subject[strings.LastIndex(m.Subject, ".")+1:]
		if p, seen := partitionOf[id]; seen && p != part {
			t.Errorf("customer %q in partitions %s and %s", id, p, part)
		}
		partitionOf[id] = part
	}
	// Every stored update and delete matches exactly one partition's filter.
	total := 0
	for i := range 4 {
		c, err := js.CreateOrUpdateConsumer(ctx, streams.Commands, jetstream.ConsumerConfig{Durable: layout.Consumer(i), FilterSubject: layout.Filter(i)})
		if err != nil {
			t.Fatal(err)
		}
		total += int(c.CachedInfo().NumPending)
		if p, idx, ok := streams.ParseConsumer(layout.Consumer(i)); !ok || p != 4 || idx != i {
			t.Errorf("ParseConsumer(%q) = %d %d %v", layout.Consumer(i), p, idx, ok)
		}
	}
	if total != 2*len(ids) {
		t.Errorf("partition consumers hold %d messages, want %d", total, 2*len(ids))
	}
}
