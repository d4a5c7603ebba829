package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gormic/crm-bridge/internal/poller"
)

// runResync is `bridge resync` (usage/resync.txt).
func runResync(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "resync")
	if err := parseFlags(fs, args, "resync"); err != nil {
		return err
	}
	nc, _, err := cf.connect("resync")
	if err != nil {
		return err
	}
	defer nc.Close()
	c := poller.ResyncClient{NC: nc, Prefix: cf.Prefix, Wait: cf.Timeout, Silence: cf.Timeout}
	began := false
	last, err := c.Run(ctx, func(pr poller.ResyncProgress) {
		if !began {
			began = true
			fmt.Fprintf(e.stdout, "resync started %s\n", pr.Started.UTC().Format(time.RFC3339))
		}
		if pr.State == poller.ResyncRunning {
			fmt.Fprintf(e.stdout, "running: %s\n", resyncCounts(pr))
		}
	})
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}
	_, err = fmt.Fprintf(e.stdout, "done: %s, in %v\n", resyncCounts(last), time.Since(last.Started).Round(time.Millisecond))
	return err
}

// resyncCounts is a progress report's counts, for one line.
func resyncCounts(pr poller.ResyncProgress) string {
	return fmt.Sprintf("%d pages, %d records, %d events, %d deletes", pr.Pages, pr.Records, pr.Events, pr.Deletes)
}
