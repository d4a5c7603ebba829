// Command floor is the black-box benchmarks' floor (docs/performance.md,
// "Black-box"): the least a bridge must do for each job, as a process of
// its own, so that the bridge's process can be compared with it. It is not
// part of the product; internal/blackbox builds and runs it.
//
//	floor commands --nats URL --crm URL [--concurrency 64]
//	floor events   --nats URL --crm URL [--since RFC3339]
//	floor model    --nats URL --crm URL
//	floor get      --nats URL [--concurrency 64]
//
// commands consumes CRM_COMMANDS from new messages on (a pull consumer),
// makes one CRM update per command, publishes a result to
// crm.customer.result with Nats-Msg-Id and Command-Id, and acks after the
// PubAck. events reads the complete export (or, with --since, the export
// since then, as a poll does) page by page, decodes it and async-publishes
// one full CloudEvents created event per customer. model puts every
// customer of the complete export into the read model's bucket, as a
// first sync's read model needs and nothing else. get answers
// crm.customer.get from the read model's bucket, a direct get a request.
// Each prints "ready" once it can work, and runs until SIGTERM or stdin
// closes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

// options are the floor's flags.
type options struct {
	nats, crm, apiKey, orgID string
	concurrency              int
	since                    time.Time // events: the export since then; zero: the complete export
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: floor commands|events|model|get --nats URL --crm URL")
	}
	fs := flag.NewFlagSet("floor "+args[0], flag.ContinueOnError)
	var o options
	fs.StringVar(&o.nats, "nats", "nats://127.0.0.1:4222", "NATS URL")
	fs.StringVar(&o.crm, "crm", "http://127.0.0.1:8081", "CRM base URL")
	fs.StringVar(&o.apiKey, "api-key", "bench-key", "CRM api-key")
	fs.StringVar(&o.orgID, "org-id", "bench-org", "CRM organization-id")
	fs.IntVar(&o.concurrency, "concurrency", 64, "commands in flight")
	fs.TextVar(&o.since, "since", time.Time{}, "events: read the export since this time (RFC 3339), not the complete one")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the harness holds stdin: its end is ours
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	switch args[0] {
	case "commands":
		return commands(ctx, o, stdout)
	case "events":
		return events(ctx, o, stdout)
	case "model":
		return readModel(ctx, o, stdout)
	case "get":
		return get(ctx, o, stdout)
	}
	return fmt.Errorf("unknown job %q", args[0])
}
