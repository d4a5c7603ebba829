package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/model"
	"github.com/gormic/crm-bridge/internal/poller"
)

// readModel is the floor of the read model alone: the bucket made as the
// bridge makes it (model.Ensure), then the complete export read page by
// page and each customer put under its key, all in one fast batch whose
// commit is awaited at the end (the poller commits a batch a page). Beside
// the silent first sync's baseline, it shows what the contract's read
// model costs by itself (docs/performance.md, scenario 8).
func readModel(ctx context.Context, o options, stdout io.Writer) error {
	var fp jetstreamext.FastPublisher
	ensure := func(js jetstream.JetStream) error {
		if _, _, err := model.Ensure(ctx, js, 1); err != nil {
			return err
		}
		var err error
		fp, err = jetstreamext.NewFastPublisher(js, jetstreamext.FastPublishFlowControl{Flow: 500, MaxOutstandingAcks: 4})
		return err
	}
	n := 0
	end := func() error {
		ack, err := fp.Close(ctx)
		if err == nil && ack.BatchSize != uint64(n) {
			err = fmt.Errorf("floor: the server stored %d of %d entries", ack.BatchSize, n)
		}
		return err
	}
	return publishExport(ctx, o, stdout, time.Time{}, ensure, end, func(js jetstream.JetStream, c crm.Customer, _ time.Time) error {
		n++
		_, err := fp.AddMsg(poller.ModelMsg(model.Key(c.ID), c.Raw))
		return err
	})
}
