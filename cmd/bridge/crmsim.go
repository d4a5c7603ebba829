package main

import (
	"context"

	"github.com/gormic/crm-bridge/internal/crmsim"
)

func runCRMSim(ctx context.Context, e env, args []string) error {
	fs := flagSet(e, "bridge crmsim", "bridge crmsim --addr HOST:PORT [flags]")
	addr := fs.String("addr", "127.0.0.1:8081", "address to listen on")
	logFormat := fs.String("log-format", "auto", "auto, text or json")
	var opts crmsim.Options
	opts.RegisterFlags(fs)
	var faults crmsim.Faults
	faults.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return parseErr(err)
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	log := newLogger(*logFormat, 0, e.stderr)
	opts.Logger = log
	sim, err := crmsim.Launch(ctx, opts, faults, *addr, nil)
	if err != nil {
		return err
	}
	log.Info("CRM simulator listening", "url", sim.URL(), "customers", sim.Len(),
		"api_key_required", opts.APIKey != "", "org_id", opts.OrgID)
	<-ctx.Done()
	return sim.Close()
}
