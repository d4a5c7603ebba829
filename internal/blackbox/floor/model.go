package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/poller"
)

// readModel is the floor of the read model alone: the bucket made as the
// bridge makes it (model.Ensure), then the complete export read page by
// page and each customer put under its key, asynchronously, as the poller
// puts it. It prints "ready", "export" and the time just before its first
// export request, and "done N" once every put is acknowledged, and waits
// to be stopped. Beside the silent first sync's baseline, it shows what
// the contract's read model costs by itself (docs/performance.md,
// scenario 8).
func readModel(ctx context.Context, o options, stdout io.Writer) error {
	nc, _, err := connect(o.nats)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return err
	}
	if _, _, err := model.Ensure(ctx, js, 1); err != nil {
		return err
	}
	client, err := crm.New(crm.Config{BaseURL: o.crm, APIKey: o.apiKey, OrgID: o.orgID})
	if err != nil {
		return err
	}
	defer client.Close()
	fmt.Fprintln(stdout, "ready")
	n := 0
	fmt.Fprintln(stdout, "export", time.Now().UTC().Format(time.RFC3339Nano))
	for page, err := range client.Export(ctx, time.Time{}) {
		if err != nil {
			return err
		}
		for _, c := range page.Items {
			if _, err := poller.PutModelAsync(js, model.Key(c.ID), c.Raw, jetstream.WithStallWait(time.Minute)); err != nil {
				return err
			}
			n++
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	fmt.Fprintln(stdout, "done", n)
	<-ctx.Done()
	return nil
}
