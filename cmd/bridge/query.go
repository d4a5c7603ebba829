package main

import (
	"context"
	"fmt"
	"io"

	"github.com/gormic/crm-bridge/internal/client"
)

func runGet(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "get")
	fresh := fs.Bool("fresh", false, "read the CRM instead of the read model")
	asJSON := fs.Bool("json", false, "print the reply as JSON")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] == "" {
		return usagef("get: want one customer ID, got %d arguments", len(pos))
	}
	subject, body := cf.GetRequest(pos[0], *fresh)
	return query(ctx, e, cf, "get", *asJSON, subject, body, func(reply []byte) error {
		text, err := client.FoundText(reply, pos[0])
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		_, err = io.WriteString(e.stdout, text)
		return err
	})
}

func runFind(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "find")
	phone := fs.String("phone", "", "find by phone digits")
	email := fs.String("email", "", "find by email, in any case")
	asJSON := fs.Bool("json", false, "print the reply as JSON")
	if err := parseFlags(fs, args, "find"); err != nil {
		return err
	}
	if (*phone == "") == (*email == "") {
		return usagef("find: give exactly one of --phone and --email")
	}
	subject, body := cf.FindRequest(*phone, *email)
	return query(ctx, e, cf, "find", *asJSON, subject, body, func(reply []byte) error {
		page, err := printItems(e.stdout, reply)
		if err == nil && len(page.Items) == 0 {
			fmt.Fprintln(e.stderr, "bridge find: no customer found")
		}
		return err
	})
}

func runList(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "list")
	limit := fs.Int("limit", 100, "customers in the page, 1 to 1000")
	after := fs.String("after", "", "the cursor a previous page gave (its next)")
	asJSON := fs.Bool("json", false, "print the reply as JSON")
	if err := parseFlags(fs, args, "list"); err != nil {
		return err
	}
	if *limit < 1 || *limit > 1000 {
		return usagef("list: --limit must be 1 to 1000, not %d", *limit)
	}
	subject, body := cf.ListRequest(*limit, *after)
	return query(ctx, e, cf, "list", *asJSON, subject, body, func(reply []byte) error {
		page, err := printItems(e.stdout, reply)
		if err == nil && page.Next != "" {
			fmt.Fprintf(e.stderr, "bridge list: more follow: bridge list --after %s\n", page.Next)
		}
		return err
	})
}

// query sends one request to the crm-bridge service (client.Config.Query)
// as subcommand what, and prints its reply on stdout: as it came (asJSON,
// printLine), or else through show, for a person. A failed request's
// error starts with what.
func query(ctx context.Context, e env, cf *clientFlags, what string, asJSON bool, subject string, body []byte, show func(reply []byte) error) error {
	nc, _, err := cf.connect(what)
	if err != nil {
		return err
	}
	defer nc.Close()
	reply, err := cf.Query(ctx, nc, subject, body)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	case asJSON:
		return printLine(e.stdout, reply)
	}
	return show(reply)
}

// printLine prints b (a reply or a result, as it came) on a line of its own.
func printLine(w io.Writer, b []byte) error {
	_, err := fmt.Fprintf(w, "%s\n", b)
	return err
}

// printItems prints the items of a find or list reply (client.Page.Text),
// and returns the reply.
func printItems(w io.Writer, reply []byte) (client.Page, error) {
	page, err := client.ReadPage(reply)
	if err != nil {
		return page, err
	}
	_, err = io.WriteString(w, page.Text())
	return page, err
}
