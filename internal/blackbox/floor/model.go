package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/model"
)

// readModel is the floor of the read model alone: the bucket made as the
// bridge makes it (model.Ensure), then the complete export read page by
// page and each customer put under its key, o.concurrency puts in flight
// (the key-value API has no asynchronous put). It prints "ready", "export"
// and the time just before its first export request, and "done N" once
// every put is acknowledged, and waits to be stopped. With the silent
// first sync's baseline, it shows what the contract's read model costs
// the NATS server by itself (docs/performance.md, scenario 8).
func readModel(ctx context.Context, o options, stdout io.Writer) error {
	nc, js, err := connect(o.nats)
	if err != nil {
		return err
	}
	defer nc.Close()
	kv, _, err := model.Ensure(ctx, js, 1)
	if err != nil {
		return err
	}
	client, err := crm.New(crm.Config{BaseURL: o.crm, APIKey: o.apiKey, OrgID: o.orgID})
	if err != nil {
		return err
	}
	defer client.Close()
	fmt.Fprintln(stdout, "ready")
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(o.concurrency, 1))
	var mu sync.Mutex
	n := 0
	fmt.Fprintln(stdout, "export", time.Now().UTC().Format(time.RFC3339Nano))
	for page, err := range client.Export(gctx, time.Time{}) {
		if err != nil {
			return err
		}
		for _, c := range page.Items {
			g.Go(func() error {
				if _, err := kv.Put(gctx, model.Key(c.ID), c.Raw); err != nil {
					return err
				}
				mu.Lock()
				n++
				mu.Unlock()
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "done", n)
	<-ctx.Done()
	return nil
}
