package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gormic/crm-bridge/internal/client"
	"github.com/gormic/crm-bridge/internal/config"
)

// watchFlags are bridge watch's own flags.
type watchFlags struct {
	client.Watch
	json  bool
	limit int
}

// parseWatch parses bridge watch's command line.
func parseWatch(e env, args []string) (*clientFlags, watchFlags, error) {
	var w watchFlags
	fs, cf := clientFlagSet(e, "watch")
	fs.BoolVar(&w.json, "json", false, "print JSON lines instead of lines for a person")
	fs.BoolVar(&w.All, "all", false, "start at the beginning of the stream")
	fs.DurationVar(&w.Since, "since", 0, "start with the messages stored this long ago, e.g. 10m")
	fs.StringVar(&w.Customer, "customer", "", "only this customer's events and results")
	fs.IntVar(&w.limit, "limit", 0, "stop after printing this many lines (0: never)")
	if err := parseFlags(fs, args, "watch"); err != nil {
		return nil, w, err
	}
	switch {
	case w.All && w.Since != 0:
		return nil, w, usagef("watch: --all and --since exclude each other")
	case w.Since < 0 || w.limit < 0:
		return nil, w, usagef("watch: --since and --limit cannot be negative")
	}
	return cf, w, nil
}

func runWatch(ctx context.Context, e env, args []string) error {
	cf, w, err := parseWatch(e, args)
	if err != nil {
		return err
	}
	nc, js, err := cf.connect("watch")
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := client.WaitStream(ctx, js, cf.Timeout, e.stderr); err != nil || ctx.Err() != nil {
		return err
	}
	started := func(filters []string) {
		fmt.Fprintf(e.stderr, "bridge watch: watching %s on %s (%s); Ctrl-C to stop\n", strings.Join(filters, " and "), config.RedactURL(cf.URL), w.From())
	}
	p, printed := client.NewPalette(e.stdout, e.getenv), 0
	return w.Follow(ctx, js, cf.Subjects(), started, func(m client.Message) (bool, error) {
		var line []byte
		if w.json {
			line = m.JSON()
		} else {
			line = p.Line(m, time.Now())
		}
		if _, err := e.stdout.Write(line); err != nil {
			return false, err
		}
		printed++
		return w.limit == 0 || printed < w.limit, nil
	})
}
