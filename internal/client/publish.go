package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/streams"
)

// publishStreamWait is how long Publish waits for a stream to store its
// command, at most half of Config.Timeout.
const publishStreamWait = 5 * time.Second

// Command is a command to publish.
type Command struct {
	Op         string // create, update or delete
	CustomerID string // for update and delete
	ID         string // its command id, sent as Nats-Msg-Id; empty: a fresh unique one (nuid)
	Body       []byte
}

// Publish publishes cmd with a fresh inbox of nc as its Reply-To, and
// returns the result's JSON. Everything is bounded by c.Timeout. When
// JetStream dropped the publish as a duplicate of an earlier one with the
// same id, it looks for that command's result in CRM_EVENTS instead.
// notes gets a line for a person when the result is slow to come, and
// when the publish was a duplicate. Its errors say what became of the
// command: not stored, or stored and still to be applied.
func (c Config) Publish(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, cmd Command, notes io.Writer) ([]byte, error) {
	if cmd.ID == "" {
		cmd.ID = nuid.Next()
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("subscribe to the reply inbox: %w", err)
	}
	defer sub.Unsubscribe()
	m := c.message(cmd, inbox)
	wctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	// A bridge that has just started may not have made its streams yet: a
	// publish that no stream answers is retried for a few seconds. No
	// WithExpectStream: the bridge copies a command's headers into its dead
	// letter, whose publish to CRM_DLQ such a header would refuse.
	const retryWait = 250 * time.Millisecond
	ack, err := js.PublishMsg(wctx, m, jetstream.WithRetryWait(retryWait),
		jetstream.WithRetryAttempts(int(min(c.Timeout/2, publishStreamWait)/retryWait)))
	if err != nil {
		return nil, c.publishError(ctx, err, m.Subject)
	}
	var data []byte
	if ack.Duplicate {
		fmt.Fprintf(notes, "bridge publish: command %s was already published in the last %v; JetStream dropped this copy, showing the first one's result\n", cmd.ID, streams.CommandsDuplicates)
		data, err = storedResult(wctx, js, c.Subjects(), cmd.ID)
	} else {
		data, err = awaitReply(ctx, wctx, sub, cmd.ID, notes)
	}
	if err != nil {
		return nil, c.waitError(ctx, wctx, cmd.ID, err)
	}
	return data, nil
}

// message returns cmd as a message, with inbox as its Reply-To.
func (c Config) message(cmd Command, inbox string) *nats.Msg {
	subj := c.Subjects()
	m := nats.NewMsg(subj.Create())
	switch cmd.Op {
	case streams.OpUpdate:
		m.Subject = subj.Update(cmd.CustomerID)
	case streams.OpDelete:
		m.Subject = subj.Delete(cmd.CustomerID)
	}
	m.Header.Set(nats.MsgIdHdr, cmd.ID)
	m.Header.Set(commands.HeaderReplyTo, inbox)
	m.Data = cmd.Body
	return m
}

// waitError explains why the result of stored command id did not come:
// ctx ended (interrupted), wctx did (no bridge answered in time), or err.
func (c Config) waitError(ctx, wctx context.Context, id string, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("interrupted before the result of command %s came; the command is stored in %s and will be applied", id, streams.Commands)
	case wctx.Err() != nil:
		return fmt.Errorf("no result for command %s after %v: is a bridge running? (the command is stored in %s and will be applied once one runs; --timeout waits longer)", id, c.Timeout, streams.Commands)
	}
	return fmt.Errorf("wait for the result of command %s: %w", id, err)
}

// awaitReply waits for the result on sub until wctx ends. When none came
// within a second it says on notes that the command is stored and that it
// waits, so that whoever watches knows what an interrupt leaves behind.
func awaitReply(ctx, wctx context.Context, sub *nats.Subscription, id string, notes io.Writer) ([]byte, error) {
	first, cancel := context.WithTimeout(wctx, time.Second)
	reply, err := sub.NextMsgWithContext(first)
	cancel()
	if err != nil && wctx.Err() == nil && ctx.Err() == nil {
		fmt.Fprintf(notes, "bridge publish: command %s is stored in %s; waiting for its result (Ctrl-C stops waiting, the command stays)\n", id, streams.Commands)
		reply, err = sub.NextMsgWithContext(wctx)
	}
	if err != nil {
		return nil, err
	}
	return reply.Data, nil
}

// publishError explains a failed publish of a command to subject.
func (c Config) publishError(ctx context.Context, err error, subject string) error {
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		return fmt.Errorf("publish %s: no stream stores it: has a bridge run against %s? (it creates the stream %s; the subject prefix is %q, --subject-prefix)", subject, config.RedactURL(c.URL), streams.Commands, c.Prefix)
	case ctx.Err() != nil:
		return fmt.Errorf("publish %s: interrupted", subject)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("publish %s: JetStream did not confirm within %v", subject, c.Timeout)
	}
	return fmt.Errorf("publish %s: %w", subject, err)
}

// storedResult returns the first result in CRM_EVENTS for command id,
// stored since the duplicate window before now, or the next one to come.
func storedResult(ctx context.Context, js jetstream.JetStream, subj streams.Subjects, id string) ([]byte, error) {
	start := time.Now().Add(-streams.CommandsDuplicates - time.Minute)
	c, err := js.OrderedConsumer(ctx, streams.Events, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subj.Result()},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if err != nil {
		return nil, fmt.Errorf("read the results in %s: %w", streams.Events, err)
	}
	it, err := c.Messages()
	if err != nil {
		return nil, fmt.Errorf("read the results in %s: %w", streams.Events, err)
	}
	defer it.Stop()
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return nil, err
		}
		if resultCommandID(m.Headers(), m.Data()) == id {
			return m.Data(), nil
		}
	}
}

// resultCommandID returns a result's command id: its Command-Id header, or
// else its body's commandId.
func resultCommandID(h nats.Header, data []byte) string {
	if id := h.Get(commands.HeaderCommandID); id != "" {
		return id
	}
	var r struct {
		CommandID string `json:"commandId"`
	}
	_ = json.Unmarshal(data, &r)
	return r.CommandID
}
