package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/streams"
)

// commands is the floor of a command: consume, one CRM update, a result
// published with Nats-Msg-Id (its PubAck awaited), ack. No validation, no
// order per customer, no dead letters, one consumer.
func commands(ctx context.Context, o options, stdout io.Writer) error {
	nc, js, err := connect(o.nats)
	if err != nil {
		return err
	}
	defer nc.Close()
	client, err := crm.New(crm.Config{BaseURL: o.crm, APIKey: o.apiKey, OrgID: o.orgID, MaxConns: 2 * o.concurrency})
	if err != nil {
		return err
	}
	defer client.Close()
	cons, err := js.CreateConsumer(ctx, streams.Commands, jetstream.ConsumerConfig{
		DeliverPolicy: jetstream.DeliverNewPolicy, AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: o.concurrency,
	})
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(o.concurrency))
	if err != nil {
		return err
	}
	defer it.Stop()
	subj := streams.Subjects{Prefix: "crm"}
	msgs := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range o.concurrency {
		wg.Go(func() {
			for msg := range msgs {
				apply(ctx, js, client, subj, msg)
			}
		})
	}
	fmt.Fprintln(stdout, "ready")
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		msg, err := it.Next()
		if err != nil {
			break
		}
		msgs <- msg
	}
	close(msgs)
	wg.Wait()
	return ctx.Err()
}

// apply does one command's work; a failure is only counted in the result.
func apply(ctx context.Context, js jetstream.JetStream, client *crm.Client, subj streams.Subjects, msg jetstream.Msg) {
	id := msg.Headers().Get(nats.MsgIdHdr)
	_, customer, err := subj.ParseCommand(streams.Published(msg.Subject()))
	if err == nil {
		var p crm.UpdateParams
		if err = json.Unmarshal(msg.Data(), &p); err == nil {
			err = client.Update(ctx, customer, p)
		}
	}
	status := "applied"
	if err != nil {
		status = "failed"
	}
	res := nats.NewMsg(subj.Result())
	res.Header.Set(nats.MsgIdHdr, "result-"+id)
	res.Header.Set("Command-Id", id)
	res.Data = fmt.Appendf(nil, `{"commandId":%q,"op":"update","customerId":%q,"status":%q,"attempts":1}`, id, customer, status)
	if _, err := js.PublishMsg(ctx, res); err != nil {
		return // not acked: redelivered
	}
	_ = msg.Ack()
}

func connect(url string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url, nats.Name("floor"))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}
