package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gormic/crm-bridge/internal/poller"
)

const resyncUsage = `bridge resync [flags]

Asks the active poller (in whichever bridge process polls) for a complete
export of the CRM at once, or joins the one under way, and prints its
progress about every second until it is done. The export publishes an
event for every difference it finds, finds deleted customers and repairs
the read model CRM_CUSTOMERS.

Output: one line per report, such as
  resync started 2026-11-27T10:00:00Z
  running: 12 pages, 11800 records, 3 events, 1 deletes
  done: 13 pages, 12507 records, 4 events, 1 deletes, in 2.412s

Exit status: 0 when the export is done; 1 when it failed, when no poller
answered within --timeout (no bridge is running, or none holds the
poller's lease), or when its progress stopped coming for --timeout.`

func runResync(ctx context.Context, e env, args []string) error {
	fs, cf := clientFlagSet(e, "bridge resync", resyncUsage)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("resync: unexpected argument %q", pos[0])
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
