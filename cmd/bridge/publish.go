package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/gormic/crm-bridge/internal/client"
	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/term"
)

func runPublish(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "publish")
	id := fs.String("id", "", "command id, sent as Nats-Msg-Id (default: a fresh unique id)")
	asJSON := fs.Bool("json", false, "print the result as JSON, as the bridge sent it")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	req, err := parsePublishArgs(pos, e.stdin, e.stderr)
	if err != nil {
		return err
	}
	nc, js, err := cf.connect("publish")
	if err != nil {
		return err
	}
	defer nc.Close()
	req.ID = *id
	data, err := cf.Publish(ctx, nc, js, req, e.stderr)
	if err != nil {
		return err
	}
	return printResult(e, data, *asJSON)
}

// parsePublishArgs checks the positional arguments of bridge publish and
// reads the body, from stdin where it is "-" or absent (but not for a
// delete). Its errors are usage errors, except a failed read of stdin.
func parsePublishArgs(pos []string, stdin io.Reader, stderr io.Writer) (client.Command, error) {
	if len(pos) == 0 {
		return client.Command{}, usagef("publish: missing create, update or delete (bridge publish --help)")
	}
	req := client.Command{Op: pos[0]}
	rest := pos[1:]
	switch req.Op {
	case streams.OpCreate:
	case streams.OpUpdate, streams.OpDelete:
		if len(rest) == 0 || rest[0] == "" {
			return req, usagef("publish %s: missing the customer id (bridge publish %s ID [BODY])", req.Op, req.Op)
		}
		req.CustomerID, rest = rest[0], rest[1:]
	default:
		return req, usagef("publish: unknown operation %q: want create, update or delete", req.Op)
	}
	if len(rest) > 1 {
		return req, usagef("publish %s: unexpected argument %q (quote the body as one argument)", req.Op, rest[1])
	}
	body, err := readBody(rest, req.Op, stdin, stderr)
	req.Body = body
	return req, err
}

// readBody returns the body that rest (none, or one argument) gives a
// command of op: the argument, or else, unless op is a delete without
// one, standard input ("-", or none at all).
func readBody(rest []string, op string, stdin io.Reader, stderr io.Writer) ([]byte, error) {
	switch {
	case len(rest) == 1 && rest[0] != "-":
		return []byte(rest[0]), nil
	case len(rest) == 0 && op == streams.OpDelete, stdin == nil:
		return nil, nil // an empty body
	}
	if term.IsTerminal(stdin) {
		fmt.Fprintln(stderr, "bridge publish: reading the body from standard input; end it with Ctrl-D")
	}
	body, err := io.ReadAll(stdin)
	if err != nil {
		return nil, fmt.Errorf("publish: read the body from standard input: %w", err)
	}
	return body, nil
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
	text := string(data) + "\n"
	if !asJSON {
		text = client.NewPalette(e.stdout, e.getenv).ResultText(r)
	}
	if _, err := io.WriteString(e.stdout, text); err != nil {
		return err
	}
	if r.Status != commands.StatusApplied {
		return statusError{commandID: r.CommandID, status: r.Status}
	}
	return nil
}
