package queries

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/natstest"
)

// BenchmarkGet asks get of 1,000 customers over one connection, one at a
// time, from a service on another: a request's whole round trip (the
// black-box figures under load are in docs/performance.md).
func BenchmarkGet(b *testing.B) {
	srv := natstest.Start(b, embedded.Options{StoreDir: b.TempDir()})
	nc, js := natstest.Connect(b, srv)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	customers, status, err := model.Ensure(ctx, js, 1)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		id := fmt.Sprintf("cus_%d", i)
		if _, err := customers.Put(ctx, id, record(id, "Ada", "5550100", "")); err != nil {
			b.Fatal(err)
		}
	}
	if err := model.WriteStatus(ctx, status, model.Status{Filled: true, AsOf: time.Now()}); err != nil {
		b.Fatal(err)
	}
	snc, sjs := natstest.Connect(b, srv)
	s, err := New(snc, sjs, Config{Prefix: "crm"})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer s.Stop(context.Background())
	if !eventually.Within(10*time.Second, func() bool { return s.status.Load() != nil }) {
		b.Fatal("the model's status never read")
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m, err := nc.Request(fmt.Sprintf("crm.customer.get.cus_%d", i%1000), nil, 5*time.Second)
		if err != nil || m.Header.Get("Nats-Service-Error") != "" {
			b.Fatalf("get: %v %v", err, m.Header)
		}
	}
}
