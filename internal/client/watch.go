package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/poller"
	"github.com/gormic/crm-bridge/internal/streams"
)

// Watch says which messages of CRM_EVENTS a watch shows: by default the
// change events and results stored from now on.
type Watch struct {
	All      bool          // from the start of the stream
	Since    time.Duration // from those stored this long ago, when not All and above 0
	Customer string        // only this customer's events and results (an applied create's included); "" for all
}

// Consumer returns the consumer of CRM_EVENTS that delivers what w shows
// under subj, as of now.
func (w Watch) Consumer(subj streams.Subjects, now time.Time) jetstream.OrderedConsumerConfig {
	changed := subj.AllChanged()
	if w.Customer != "" {
		changed = subj.Changed(w.Customer)
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{changed, subj.Result()},
		DeliverPolicy:  jetstream.DeliverNewPolicy,
	}
	switch {
	case w.All:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	case w.Since > 0:
		start := now.Add(-w.Since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	return cfg
}

// WaitStream waits up to timeout for CRM_EVENTS to exist, as it does not
// until a bridge has started once, saying so once on notes; it returns nil
// when ctx ends first.
func WaitStream(ctx context.Context, js jetstream.JetStream, timeout time.Duration, notes io.Writer) error {
	deadline := time.Now().Add(timeout)
	for noted := false; ; noted = true {
		_, err := js.Stream(ctx, streams.Events)
		switch {
		case err == nil || ctx.Err() != nil:
			return nil
		case !errors.Is(err, jetstream.ErrStreamNotFound):
			return fmt.Errorf("watch: look up the stream %s: %w", streams.Events, err)
		case time.Now().After(deadline):
			return fmt.Errorf("watch: no stream %s after %v: has a bridge run against this NATS? (it creates the stream)", streams.Events, timeout)
		case !noted:
			fmt.Fprintf(notes, "bridge watch: no stream %s yet; waiting up to %v for a bridge to create it\n", streams.Events, timeout)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Follow calls fn with each message that w shows under subj, as they
// arrive, until fn returns false or an error (returned), or ctx ends
// (nil). started, when not nil, is called once the consumer exists, with
// its subject filters.
func (w Watch) Follow(ctx context.Context, js jetstream.JetStream, subj streams.Subjects, started func(filters []string), fn func(Message) (bool, error)) error {
	cfg := w.Consumer(subj, time.Now())
	c, err := js.OrderedConsumer(ctx, streams.Events, cfg)
	if err != nil {
		return fmt.Errorf("watch %s: %w", streams.Events, err)
	}
	it, err := c.Messages()
	if err != nil {
		return fmt.Errorf("watch %s: %w", streams.Events, err)
	}
	defer it.Stop()
	if started != nil {
		started(cfg.FilterSubjects)
	}
	for {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watch %s: %w", streams.Events, err)
		}
		msg := Decode(m, subj, time.Now())
		if w.Customer != "" && msg.Kind == KindResult && msg.Result.CustomerID != w.Customer {
			continue // a result of another customer
		}
		if more, err := fn(msg); err != nil || !more {
			return err
		}
	}
}

// Kinds of a Message.
const (
	KindEvent  = "event"
	KindResult = "result"
)

// Message is a message of CRM_EVENTS, decoded as far as a watch shows it.
type Message struct {
	Kind    string    // KindEvent or KindResult
	Seq     uint64    // its stream sequence; 0 when unknown
	Stored  time.Time // when it was stored
	Subject string
	Header  nats.Header
	Data    []byte
	Result  commands.Result // of a result
	Event   Event           // of an event
	Err     error           // why the body is unreadable; nil when it is not
}

// Event is what a watch shows of a change event.
type Event struct {
	CustomerID string   `json:"customerId"`
	Change     string   `json:"change"`
	Fields     []string `json:"fields"`
}

// Decode returns m as a Message; now stands in for when it was stored when
// its metadata is missing. Only what a watch shows is decoded, so that a
// field this version does not know cannot make a message unreadable.
func Decode(m jetstream.Msg, subj streams.Subjects, now time.Time) Message {
	msg := Message{Kind: KindEvent, Stored: now, Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}
	if m.Subject() == subj.Result() {
		msg.Kind = KindResult
		msg.Err = json.Unmarshal(m.Data(), &msg.Result)
	} else {
		msg.Err = json.Unmarshal(m.Data(), &msg.Event)
	}
	if meta, err := m.Metadata(); err == nil {
		msg.Seq, msg.Stored = meta.Sequence.Stream, meta.Timestamp
	}
	return msg
}

// JSON returns m as one JSON object and a newline: its body's fields
// (the event or the result, as in the contract), preceded by type, seq,
// storedAt, subject and, for an event, its ceId and ceSource headers; a
// body that is not a JSON object is invalidBody, a string.
func (m Message) JSON() []byte {
	var b bytes.Buffer
	add := func(name string, v any) { addMember(&b, name, v) }
	add("type", m.Kind)
	add("seq", m.Seq)
	add("storedAt", m.Stored.UTC().Format(time.RFC3339Nano))
	add("subject", m.Subject)
	if m.Kind == KindEvent {
		for name, h := range map[string]string{"ceId": poller.HeaderID, "ceSource": poller.HeaderSource} {
			if v := m.Header.Get(h); v != "" {
				add(name, v)
			}
		}
	}
	var body bytes.Buffer
	if err := json.Compact(&body, m.Data); err != nil || body.Len() < 2 || body.Bytes()[0] != '{' {
		add("invalidBody", string(m.Data))
	} else if inner := body.Bytes()[1 : body.Len()-1]; len(inner) > 0 {
		b.WriteByte(',')
		b.Write(inner)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

// addMember writes name and v to b as the next member of a JSON object,
// opening the object when b is empty.
func addMember(b *bytes.Buffer, name string, v any) {
	if b.Len() == 0 {
		b.WriteByte('{')
	} else {
		b.WriteByte(',')
	}
	k, _ := json.Marshal(name)
	val, _ := json.Marshal(v)
	b.Write(k)
	b.WriteByte(':')
	b.Write(val)
}
