package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gormic/crm-bridge/internal/client"
	"github.com/gormic/crm-bridge/internal/term"
)

const getUsage = `bridge get ID [--fresh] [--json] [flags]

Prints customer ID from the bridge's read model (the query
crm.customer.get.<ID>): a line saying where it comes from and as of when,
then its record, indented. --fresh reads the CRM instead (through the
bridge, under its rate limit). --json prints the query's reply as it came:
{"customer": {...}, "source": "model" or "crm", "asOf": "..."}.
A customer that does not exist, or any other error answer, is printed to
standard error with exit status 1.`

const findUsage = `bridge find (--phone P | --email E) [--json] [flags]

Prints the customers whose phone has the digits of P, or whose email is E
in any case (the query crm.customer.find), one line each:
  cus_123  Ada Lovelace  +1 5550100  ada@example.com
--json prints the query's reply as it came: {"items": [...]}.`

const listUsage = `bridge list [--limit N] [--after CURSOR] [--json] [flags]

Prints a page of customers in id order (the query crm.customer.list), one
line each as bridge find does, and, when more follow, how to ask for the
next page (--after CURSOR). --limit is 1 to 1000 (default 100). --json
prints the query's reply as it came: {"items": [...], "next": "..."}.`

func runGet(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "bridge get", getUsage)
	fresh := fs.Bool("fresh", false, "read the CRM instead of the read model")
	asJSON := fs.Bool("json", false, "print the reply as JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] == "" {
		return usagef("get: want one customer ID, got %d arguments", len(pos))
	}
	id := pos[0]
	subject, body := cf.GetRequest(id, *fresh)
	reply, err := query(ctx, cf, "get", subject, body)
	if err != nil {
		return err
	}
	if *asJSON {
		return printLine(e.stdout, reply)
	}
	return printFound(e.stdout, id, reply)
}

// printFound prints the reply to a get of customer id for a person: where
// it comes from and as of when, then the record, indented.
func printFound(w io.Writer, id string, reply []byte) error {
	var r client.Found
	if err := json.Unmarshal(reply, &r); err != nil {
		return fmt.Errorf("get: unreadable reply: %w", err)
	}
	var rec bytes.Buffer
	if err := json.Indent(&rec, r.Customer, "", "  "); err != nil {
		return fmt.Errorf("get: unreadable record: %w", err)
	}
	from := "the read model"
	if r.Source == "crm" {
		from = "the CRM"
	}
	_, err := fmt.Fprintf(w, "customer %s from %s as of %s\n%s\n", term.Clean(id), from, r.AsOf.Local().Format(time.DateTime), rec.Bytes())
	return err
}

func runFind(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "bridge find", findUsage)
	phone := fs.String("phone", "", "find by phone digits")
	email := fs.String("email", "", "find by email, in any case")
	asJSON := fs.Bool("json", false, "print the reply as JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("find: unexpected argument %q", pos[0])
	case (*phone == "") == (*email == ""):
		return usagef("find: give exactly one of --phone and --email")
	}
	subject, body := cf.FindRequest(*phone, *email)
	reply, err := query(ctx, cf, "find", subject, body)
	if err != nil {
		return err
	}
	if *asJSON {
		return printLine(e.stdout, reply)
	}
	page, err := printItems(e.stdout, reply)
	if err == nil && len(page.Items) == 0 {
		fmt.Fprintln(e.stderr, "bridge find: no customer found")
	}
	return err
}

func runList(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "bridge list", listUsage)
	limit := fs.Int("limit", 100, "customers in the page, 1 to 1000")
	after := fs.String("after", "", "the cursor a previous page gave (its next)")
	asJSON := fs.Bool("json", false, "print the reply as JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("list: unexpected argument %q", pos[0])
	case *limit < 1 || *limit > 1000:
		return usagef("list: --limit must be 1 to 1000, not %d", *limit)
	}
	subject, body := cf.ListRequest(*limit, *after)
	reply, err := query(ctx, cf, "list", subject, body)
	if err != nil {
		return err
	}
	if *asJSON {
		return printLine(e.stdout, reply)
	}
	page, err := printItems(e.stdout, reply)
	if err != nil {
		return err
	}
	if page.Next != "" {
		fmt.Fprintf(e.stderr, "bridge list: more follow: bridge list --after %s\n", page.Next)
	}
	return nil
}

// query sends one request to the crm-bridge service (client.Config.Query)
// and returns its reply; what names the subcommand.
func query(ctx context.Context, cf *clientFlags, what, subject string, body []byte) ([]byte, error) {
	nc, _, err := cf.connect(what)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	reply, err := cf.Query(ctx, nc, subject, body)
	if se := (*client.ServiceError)(nil); errors.As(err, &se) {
		return nil, fmt.Errorf("%s: %s (%s): %s", what, term.Clean(se.Code), se.Status, term.Clean(se.Message))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return reply, nil
}

// printItems prints the items of a find or list reply, one line each, and
// returns the reply.
func printItems(w io.Writer, reply []byte) (client.Page, error) {
	var r client.Page
	if err := json.Unmarshal(reply, &r); err != nil {
		return r, fmt.Errorf("unreadable reply: %w", err)
	}
	var b strings.Builder
	for _, c := range r.Items {
		name := c.FirstName
		if c.LastName != nil && *c.LastName != "" {
			name += " " + *c.LastName
		}
		phone := c.Phone
		if c.PhoneCountryCalling != "" {
			phone = "+" + c.PhoneCountryCalling + " " + phone
		}
		line := strings.Join([]string{c.ID, name, phone, c.Email}, "  ")
		if c.ArchivedAt != nil {
			line += "  (archived)"
		}
		b.WriteString(term.Clean(strings.TrimRight(line, " ")) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return r, err
}

func printLine(w io.Writer, b []byte) error {
	_, err := fmt.Fprintf(w, "%s\n", b)
	return err
}
