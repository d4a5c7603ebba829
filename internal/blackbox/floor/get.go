package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/queries"
	"github.com/gormic/crm-bridge/internal/streams"
)

// get is the floor of crm.customer.get: each request's customer read
// from the read model's bucket (a direct get of its key) and answered
// with its record in the bridge's reply (queries.GetReply),
// --concurrency at once. No micro service, no readiness,
// no status, no metrics.
func get(ctx context.Context, o options, stdout io.Writer) error {
	nc, js, err := connect(o.nats)
	if err != nil {
		return err
	}
	defer nc.Close()
	kv, err := js.KeyValue(ctx, model.Bucket)
	if err != nil {
		return err
	}
	sem := make(chan struct{}, max(o.concurrency, 1))
	sub, err := nc.Subscribe("crm.customer.get.*", func(m *nats.Msg) {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			answer(ctx, kv, m)
		}()
	})
	if err != nil {
		return err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ready")
	<-ctx.Done()
	return ctx.Err()
}

// answer replies to one get request m from kv.
func answer(ctx context.Context, kv jetstream.KeyValue, m *nats.Msg) {
	id, err := streams.DecodeToken(m.Subject[strings.LastIndexByte(m.Subject, '.')+1:])
	if err != nil {
		_ = m.Respond(nil)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	e, err := kv.Get(ctx, model.Key(id))
	if err != nil {
		code := "503"
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			code = "404"
		}
		r := nats.NewMsg(m.Reply)
		r.Header.Set("Nats-Service-Error-Code", code)
		_ = m.RespondMsg(r)
		return
	}
	_ = m.Respond(queries.GetReply(e.Value(), "model", time.Now()))
}
