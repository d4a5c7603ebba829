package commands

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/crm"
	"github.com/gormic/crm-bridge/internal/deadletter"
	"github.com/gormic/crm-bridge/internal/lease"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/tracing"
)

// handle takes one command from delivery to acknowledgement: decode and
// validate it, apply it, store its result (and dead letter), answer its
// Reply-To, ack it. It returns false, having acknowledged nothing, when
// ctx ended first (the processor is stopping, or the partition's lease,
// ls, was lost): the caller hands the command back or leaves it to expire.
// ls is nil for creates, which belong to no partition. The caller keeps
// msg held (Processor.holder) from delivery until it is acknowledged or
// handed back. confirm, called once the result is stored, says whether to
// wait for the server to confirm the ack; nil: never. meta is msg's
// metadata, when the caller has parsed it already; nil: handle parses it.
func (p *Processor) handle(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata, ls *lease.Lease, confirm func() bool) bool {
	if meta == nil {
		var err error
		if meta, err = msg.Metadata(); err != nil { // not a JetStream message: cannot happen on a pull consumer
			p.log.Error("command without metadata", "subject", msg.Subject(), "err", err)
			return false
		}
	}
	c := command{msg: msg, subject: streams.Published(msg.Subject()), published: meta.Timestamp}
	c.id = msg.Headers().Get(nats.MsgIdHdr)
	if c.id == "" {
		c.id = strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	var verr *ValidationError
	c.op, c.customerID, verr = parseSubject(p.subjects, c.subject)
	log := p.commandLog(c)
	ctx, span := p.startSpan(ctx, c)
	var out outcome
	var unfinished error // finish failed: handed back
	defer func() { endSpan(span, out, unfinished) }()
	if verr != nil {
		out = rejected(verr)
	} else if cmd, err := Decode(c.op, c.customerID, msg.Data()); err != nil {
		out = rejected(err.(*ValidationError)) // Decode's only error type
	} else {
		d := delivery{redelivered: meta.NumDelivered > 1, published: meta.Timestamp, lease: ls}
		out = p.applyWhenOpen(ctx, cmd, d, log)
	}
	if out.canceled {
		return false
	}
	if out.customerID == "" {
		out.customerID = c.customerID // update and delete name theirs, whatever the outcome
	}
	if err := p.finish(ctx, c, out, confirm, log); err != nil {
		log.Warn("command not finished; it is handed back", "err", err)
		unfinished = err
		return false
	}
	return true
}

// applyWhenOpen applies cmd once the gate is open and a slot is free,
// starting over whenever the CRM refuses the credentials. A command still
// waiting for the gate or a slot when Stop begins is not started: it is
// handed back at once, while one already at the CRM gets StopTimeout.
func (p *Processor) applyWhenOpen(ctx context.Context, cmd Command, d delivery, log *cmdLog) outcome {
	stopping := p.fetchCtx.Done()
	attempts := 0
	d.warnings = &crm.Warnings{}
	for {
		if !p.gate.wait(ctx.Done(), stopping) {
			return outcome{canceled: true}
		}
		select {
		case p.slots <- struct{}{}:
		case <-ctx.Done():
			return outcome{canceled: true}
		case <-stopping:
			return outcome{canceled: true}
		}
		out := p.apply.apply(ctx, cmd, d, attempts, log)
		<-p.slots
		if !out.blocked {
			out.warnings = d.warnings.Last()
			return out
		}
		attempts = out.attempts
	}
}

// command is what handle knows of a message.
type command struct {
	msg        jetstream.Msg
	id         string
	subject    string // as published
	op         string // one of the three, or streams.OpUnknown (parseSubject)
	customerID string
	published  time.Time
}

func rejected(v *ValidationError) outcome {
	return outcome{status: StatusRejected, err: Rejected(v)}
}

// finish notes an applied delete (Config.Deleted), stores the command's
// dead letter (unless it was applied) and its result, answers its Reply-To and acknowledges it; when confirm (if not
// nil) says so, it waits until the server confirms the ack, so that the
// customer's next command cannot overtake this one. It returns an error, having acknowledged
// nothing for certain, when ctx ends first.
func (p *Processor) finish(ctx context.Context, c command, out outcome, confirm func() bool, log *cmdLog) error {
	res := Result{
		CommandID:  c.id,
		Op:         c.op,
		Status:     out.status,
		CustomerID: out.customerID,
		Attempts:   out.attempts,
		Error:      out.err,
		Warnings:   out.warnings,
		FinishedAt: time.Now(),
	}
	body, err := res.encode()
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	if out.status == StatusApplied && c.op == streams.OpDelete && p.cfg.Deleted != nil {
		if err := retry(ctx, func(ctx context.Context) error { return p.cfg.Deleted(ctx, out.customerID) }); err != nil {
			return fmt.Errorf("note the applied delete: %w", err)
		}
	}
	if out.status != StatusApplied {
		if err := p.publish(ctx, p.deadLetter(ctx, c, res)); err != nil {
			return fmt.Errorf("dead letter: %w", err)
		}
		p.metrics.deadLetters.WithLabelValues(c.op, out.status).Inc()
	}
	rm := nats.NewMsg(p.resultSubject)
	rm.Header.Set(HeaderCommandID, c.id)
	rm.Header.Set(nats.MsgIdHdr, "result-"+c.id)
	tracing.Inject(ctx, rm.Header)
	rm.Data = body
	if err := p.publish(ctx, rm); err != nil {
		return fmt.Errorf("result: %w", err)
	}
	if to := c.msg.Headers().Get(HeaderReplyTo); to != "" {
		reply := nats.NewMsg(to)
		reply.Header.Set(HeaderCommandID, c.id)
		tracing.Inject(ctx, reply.Header)
		reply.Data = body
		if err := p.nc.PublishMsg(reply); err != nil {
			log.Warn("cannot answer Reply-To", "reply_to", to, "err", err)
		}
	}
	if err := p.ack(ctx, c.msg, confirm != nil && confirm()); err != nil {
		return fmt.Errorf("ack: %w", err)
	}
	p.metrics.commands.WithLabelValues(c.op, out.status).Inc()
	p.metrics.duration.WithLabelValues(c.op, out.status).Observe(res.FinishedAt.Sub(c.published).Seconds())
	level := slog.LevelInfo
	if out.status != StatusApplied {
		level = slog.LevelWarn
	}
	var buf [5]slog.Attr
	attrs := append(buf[:0], slog.String("status", out.status), slog.Int("attempts", out.attempts))
	if out.customerID != "" && c.customerID == "" {
		attrs = append(attrs, slog.String("customer_id", out.customerID))
	}
	if out.err != nil {
		attrs = append(attrs, slog.String("error_code", out.err.Code), slog.String("error", out.err.Message))
	}
	log.done(level, "command done", attrs...)
	return nil
}

// deadLetter returns the dead letter of a command that was not applied
// (deadletter.Message), with the trace context of ctx: the command's span.
func (p *Processor) deadLetter(ctx context.Context, c command, res Result) *nats.Msg {
	reason := res.Status
	if res.Error != nil {
		reason = res.Error.Code + ": " + res.Error.Message
	}
	return deadletter.Message(ctx, p.subjects, deadletter.Command{
		ID: c.id, Op: c.op, Subject: c.subject, Header: c.msg.Headers(), Data: c.msg.Data(),
		Status: res.Status, Reason: reason,
	})
}

// publish stores m in JetStream, retrying until it is acknowledged or ctx
// ends.
func (p *Processor) publish(ctx context.Context, m *nats.Msg) error {
	return retry(ctx, func(ctx context.Context) error {
		_, err := p.js.PublishMsg(ctx, m)
		return err
	})
}

// ack acknowledges msg. With confirm it retries until the server confirms
// it or ctx ends; otherwise one ack is sent: if it is lost, the command is
// applied again, idempotently, and its result and dead letter are
// deduplicated.
func (p *Processor) ack(ctx context.Context, msg jetstream.Msg, confirm bool) error {
	if !confirm {
		return msg.Ack()
	}
	return retry(ctx, msg.DoubleAck)
}

// retry calls f, each call bounded to 5s, until it succeeds or ctx ends
// (then it returns ctx's error), waiting between calls with exponential
// backoff from 50ms to 2s. The first call costs nothing more than f.
func retry(ctx context.Context, f func(context.Context) error) error {
	var bo *backoff.ExponentialBackOff
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := f(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if bo == nil {
			bo = backoff.NewExponentialBackOff(backoff.WithInitialInterval(50*time.Millisecond), backoff.WithMaxInterval(2*time.Second), backoff.WithMaxElapsedTime(0))
		}
		pause(ctx, bo.NextBackOff())
	}
}
