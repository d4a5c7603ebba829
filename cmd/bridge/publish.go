package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"golang.org/x/term"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/streams"
)

const publishUsage = `bridge publish [flags] create [BODY]
       bridge publish [flags] update ID [BODY]
       bridge publish [flags] delete ID [BODY]

Publishes one command to JetStream with a fresh command id (Nats-Msg-Id) and
a Reply-To inbox, waits for the bridge's result and prints it. BODY is the
command's JSON; "-", or no BODY for create and update, reads it from standard
input; a delete without BODY has an empty body. The bridge validates the body.

Output: one line such as
  applied create cus_123 (command 8d1c..., 1 attempt)
  rejected update cus_9 (command c-2, 0 attempts): VALIDATION: ...
followed, for a body with several problems, by one line each; with --json,
the result as the bridge sent it (schemas/result.schema.json).

Exit status: 0 when the result is applied; 1 when it is rejected or failed,
or no result came within --timeout (the command stays stored and is applied
once a bridge runs); 2 for a wrong command line. Flags may come before or
after the arguments.`

// publishStreamWait is how long bridge publish waits for a stream to
// store its command, at most half of --timeout.
const publishStreamWait = 5 * time.Second

// publishRequest is a command line of bridge publish, parsed.
type publishRequest struct {
	op, customerID string
	body           []byte
}

func runPublish(ctx context.Context, e env, args []string) error {
	var cf clientFlags
	fs := flagSet(e, "bridge publish", publishUsage)
	cf.register(fs, e.getenv)
	id := fs.String("id", "", "command id, sent as Nats-Msg-Id (default: a fresh unique id)")
	asJSON := fs.Bool("json", false, "print the result as JSON, as the bridge sent it")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return parseErr(err)
	}
	req, err := parsePublishArgs(pos, e.stdin, e.stderr)
	if err != nil {
		return err
	}
	if *id == "" {
		*id = nuid.Next()
	}
	nc, js, err := cf.connect("publish")
	if err != nil {
		return err
	}
	defer nc.Close()
	data, err := publishAndWait(ctx, nc, js, cf, req, *id, e.stderr)
	if err != nil {
		return err
	}
	return printResult(e, data, *asJSON)
}

// parsePublishArgs checks the positional arguments of bridge publish and
// reads the body, from stdin where it is "-" or absent (but not for a
// delete). Its errors are usage errors, except a failed read of stdin.
func parsePublishArgs(pos []string, stdin io.Reader, stderr io.Writer) (publishRequest, error) {
	if len(pos) == 0 {
		return publishRequest{}, usagef("publish: missing create, update or delete (bridge publish --help)")
	}
	req := publishRequest{op: pos[0]}
	rest := pos[1:]
	switch req.op {
	case streams.OpCreate:
	case streams.OpUpdate, streams.OpDelete:
		if len(rest) == 0 || rest[0] == "" {
			return req, usagef("publish %s: missing the customer id (bridge publish %s ID [BODY])", req.op, req.op)
		}
		req.customerID, rest = rest[0], rest[1:]
	default:
		return req, usagef("publish: unknown operation %q: want create, update or delete", req.op)
	}
	if len(rest) > 1 {
		return req, usagef("publish %s: unexpected argument %q (quote the body as one argument)", req.op, rest[1])
	}
	switch {
	case len(rest) == 1 && rest[0] != "-":
		req.body = []byte(rest[0])
	case len(rest) == 0 && req.op == streams.OpDelete:
		// an empty body
	default:
		if stdin == nil {
			return req, nil
		}
		if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			fmt.Fprintln(stderr, "bridge publish: reading the body from standard input; end it with Ctrl-D")
		}
		body, err := io.ReadAll(stdin)
		if err != nil {
			return req, fmt.Errorf("publish: read the body from standard input: %w", err)
		}
		req.body = body
	}
	return req, nil
}

// publishAndWait publishes the command with id as its Nats-Msg-Id and a
// fresh inbox as its Reply-To, and returns the result's JSON. Everything
// is bounded by cf.timeout. When JetStream dropped the publish as a
// duplicate of an earlier one with the same id, it looks for that
// command's result in CRM_EVENTS instead.
func publishAndWait(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, cf clientFlags, req publishRequest, id string, stderr io.Writer) ([]byte, error) {
	subj := cf.subjects()
	m := nats.NewMsg(subj.Create())
	switch req.op {
	case streams.OpUpdate:
		m.Subject = subj.Update(req.customerID)
	case streams.OpDelete:
		m.Subject = subj.Delete(req.customerID)
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("subscribe to the reply inbox: %w", err)
	}
	defer sub.Unsubscribe()
	m.Header.Set(nats.MsgIdHdr, id)
	m.Header.Set(commands.HeaderReplyTo, inbox)
	m.Data = req.body

	wctx, cancel := context.WithTimeout(ctx, cf.timeout)
	defer cancel()
	// A bridge that has just started may not have made its streams yet: a
	// publish that no stream answers is retried for a few seconds. No
	// WithExpectStream: the bridge copies a command's headers into its dead
	// letter, whose publish to CRM_DLQ such a header would refuse.
	const retryWait = 250 * time.Millisecond
	ack, err := js.PublishMsg(wctx, m, jetstream.WithRetryWait(retryWait),
		jetstream.WithRetryAttempts(int(min(cf.timeout/2, publishStreamWait)/retryWait)))
	if err != nil {
		return nil, publishError(ctx, err, m.Subject, cf)
	}
	var data []byte
	if ack.Duplicate {
		fmt.Fprintf(stderr, "bridge publish: command %s was already published in the last %v; JetStream dropped this copy, showing the first one's result\n", id, streams.CommandsDuplicates)
		data, err = storedResult(wctx, js, subj, id)
	} else {
		data, err = awaitReply(ctx, wctx, sub, id, stderr)
	}
	switch {
	case err == nil:
		return data, nil
	case ctx.Err() != nil:
		return nil, fmt.Errorf("interrupted before the result of command %s came; the command is stored in %s and will be applied", id, streams.Commands)
	case wctx.Err() != nil:
		return nil, fmt.Errorf("no result for command %s after %v: is a bridge running? (the command is stored in %s and will be applied once one runs; --timeout waits longer)", id, cf.timeout, streams.Commands)
	}
	return nil, fmt.Errorf("wait for the result of command %s: %w", id, err)
}

// awaitReply waits for the result on sub until wctx ends. When none came
// within a second it says on stderr that the command is stored and that it
// waits, so that whoever watches knows what an interrupt leaves behind.
func awaitReply(ctx, wctx context.Context, sub *nats.Subscription, id string, stderr io.Writer) ([]byte, error) {
	first, cancel := context.WithTimeout(wctx, time.Second)
	reply, err := sub.NextMsgWithContext(first)
	cancel()
	if err != nil && wctx.Err() == nil && ctx.Err() == nil {
		fmt.Fprintf(stderr, "bridge publish: command %s is stored in %s; waiting for its result (Ctrl-C stops waiting, the command stays)\n", id, streams.Commands)
		reply, err = sub.NextMsgWithContext(wctx)
	}
	if err != nil {
		return nil, err
	}
	return reply.Data, nil
}

// publishError explains a failed publish of a command to subject.
func publishError(ctx context.Context, err error, subject string, cf clientFlags) error {
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		return fmt.Errorf("publish %s: no stream stores it: has a bridge run against %s? (it creates the stream %s; the subject prefix is %q, --subject-prefix)", subject, config.RedactURL(cf.url), streams.Commands, cf.prefix)
	case ctx.Err() != nil:
		return fmt.Errorf("publish %s: interrupted", subject)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("publish %s: JetStream did not confirm within %v", subject, cf.timeout)
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

// statusError is bridge publish's error for a command that was not
// applied; main exits with status 1 for it.
type statusError struct{ commandID, status string }

func (e statusError) Error() string { return "command " + e.commandID + " " + e.status }

// printResult prints a result's JSON as is (asJSON) or for a person, and
// returns a statusError unless it is applied.
func printResult(e env, data []byte, asJSON bool) error {
	var r commands.Result
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("unreadable result %q: %w", data, err)
	}
	var out strings.Builder
	if asJSON {
		out.Write(data)
		out.WriteByte('\n')
	} else {
		out.WriteString(resultLine(newPalette(e.stdout, e.getenv), r))
		out.WriteByte('\n')
		if r.Error != nil && len(r.Error.Fields) > 1 { // the message names the first
			for _, f := range r.Error.Fields {
				fmt.Fprintf(&out, "  %s: %s (%s)\n", clean(f.Field), clean(f.Message), clean(f.Rule))
			}
		}
	}
	if _, err := io.WriteString(e.stdout, out.String()); err != nil {
		return err
	}
	if r.Status != commands.StatusApplied {
		return statusError{commandID: r.CommandID, status: r.Status}
	}
	return nil
}

// resultLine returns a result for a person, on one line: status, op,
// customer id, command id, attempts and, unless applied, the error's code
// and message.
func resultLine(p palette, r commands.Result) string {
	var b strings.Builder
	b.WriteString(p.status(r.Status))
	b.WriteString(" " + clean(r.Op))
	if r.CustomerID != "" {
		b.WriteString(" " + p.bold(clean(r.CustomerID)))
	}
	attempts := "attempts"
	if r.Attempts == 1 {
		attempts = "attempt"
	}
	fmt.Fprintf(&b, " (command %s, %d %s)", clean(r.CommandID), r.Attempts, attempts)
	if r.Error != nil {
		fmt.Fprintf(&b, ": %s: %s", p.paint(colourRed, clean(r.Error.Code)), clean(r.Error.Message))
	}
	return b.String()
}
