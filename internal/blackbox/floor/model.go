package main

import (
	"context"
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
// puts a first start's (publishExport). Beside the silent first sync's baseline, it
// shows what the contract's read model costs by itself
// (docs/performance.md, scenario 8).
func readModel(ctx context.Context, o options, stdout io.Writer) error {
	ensure := func(js jetstream.JetStream) error {
		_, _, err := model.Ensure(ctx, js, 1)
		return err
	}
	return publishExport(ctx, o, stdout, time.Time{}, ensure, func(js jetstream.JetStream, c crm.Customer, _ time.Time) error {
		_, err := poller.PutModelAsync(js, model.Key(c.ID), c.Raw, jetstream.WithStallWait(time.Minute))
		return err
	})
}
