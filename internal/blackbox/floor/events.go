package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/poller"
	"github.com/gormic/crm-bridge/internal/streams"
)

// events is the floor of a first start with initial events: the bridge's
// streams made, then the complete export read page by page (or, with
// o.since, the export since then: a poll's), each customer published as a
// full CloudEvents created event, asynchronously (publishExport).
func events(ctx context.Context, o options, stdout io.Writer) error {
	subj := streams.Subjects{Prefix: "crm"}
	ensure := func(js jetstream.JetStream) error {
		return streams.Ensure(ctx, js, streams.Config{Prefix: "crm", Replicas: 1, Partitions: streams.CommandPartitions})
	}
	return publishExport(ctx, o, stdout, o.since, ensure, func(js jetstream.JetStream, c crm.Customer, now time.Time) error {
		ev, _, err := poller.NewEvent(c.ID, nil, c.Raw, now)
		if err != nil {
			return err
		}
		m, err := poller.Message(subj, o.orgID, ev)
		if err != nil {
			return err
		}
		_, err = js.PublishMsgAsync(m, jetstream.WithStallWait(time.Minute))
		return err
	})
}

// publishExport is the floor's export jobs but for what they publish:
// ensure makes what they write to, then the export since since is read
// page by page and each customer handed to publish (asynchronously, with
// the time its page came). It prints "ready", then "export" and the time
// (RFC 3339) just before its first export request, and "done N" once
// every PubAck is in, and waits to be stopped.
func publishExport(ctx context.Context, o options, stdout io.Writer, since time.Time,
	ensure func(jetstream.JetStream) error, publish func(jetstream.JetStream, crm.Customer, time.Time) error) error {
	nc, _, err := connect(o.nats)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return err
	}
	if err := ensure(js); err != nil {
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
	for page, err := range client.Export(ctx, since) {
		if err != nil {
			return err
		}
		now := time.Now()
		for _, c := range page.Items {
			if err := publish(js, c, now); err != nil {
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
