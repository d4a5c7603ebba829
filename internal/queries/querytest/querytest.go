// Package querytest fills and reads the read model and starts the
// crm-bridge query service over it, on a real JetStream, for the tests of
// the packages that ask it.
package querytest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/queries"
)

// Records returns every record of the read model kv by customer id.
func Records(ctx context.Context, kv jetstream.KeyValue) (map[string]json.RawMessage, error) {
	wt, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	defer wt.Stop()
	out := map[string]json.RawMessage{}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read model: %w", ctx.Err())
		case e := <-wt.Updates():
			if e == nil {
				return out, nil
			}
			id, err := model.ID(e.Key())
			if err != nil {
				return nil, err
			}
			out[id] = e.Value()
		}
	}
}

// Fill makes the read model in js (one replica), puts records (JSON by
// customer id) in it and marks it filled as of now.
func Fill(t testing.TB, js jetstream.JetStream, records map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	customers, status, err := model.Ensure(ctx, js, 1)
	if err != nil {
		t.Fatal(err)
	}
	for id, rec := range records {
		if _, err := customers.Put(ctx, model.Key(id), []byte(rec)); err != nil {
			t.Fatal(err)
		}
	}
	if err := model.WriteStatus(ctx, status, model.Status{Filled: true, AsOf: time.Now()}); err != nil {
		t.Fatal(err)
	}
}

// Start fills the read model with records and starts the query service
// (prefix crm) over it; it returns once the service has indexed the
// model, and stops it when the test ends.
func Start(t testing.TB, nc *nats.Conn, js jetstream.JetStream, records map[string]string) *queries.Service {
	t.Helper()
	Fill(t, js, records)
	s, err := queries.New(nc, js, queries.Config{Prefix: "crm"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	eventually.True(t, 10*time.Second, "the model indexed", func() bool {
		_, ok, _ := s.ByPhone(ctx, "0")
		return ok
	})
	return s
}
