package main

import (
	"context"
	"errors"
	"fmt"

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
	sim, err := startSimulator(ctx, opts, faults, *addr, nil)
	if err != nil {
		return err
	}
	log.Info("CRM simulator listening", "url", sim.URL(), "customers", sim.Len(),
		"api_key_required", opts.APIKey != "", "org_id", opts.OrgID)
	<-ctx.Done()
	return sim.Close()
}

// startSimulator makes a simulator, sets its faults, fills it (fill, or
// when fill is nil Seed with opts.SeedCustomers), starts it on addr and,
// when opts asks for churn, changes customers until ctx ends.
func startSimulator(ctx context.Context, opts crmsim.Options, faults crmsim.Faults, addr string,
	fill func(*crmsim.Simulator) error) (*crmsim.Simulator, error) {
	sim, err := crmsim.New(opts)
	if err != nil {
		return nil, err
	}
	if err := sim.SetFaults(faults); err != nil {
		return nil, err
	}
	if fill == nil {
		sim.Seed(opts.SeedCustomers)
	} else if err := fill(sim); err != nil {
		return nil, err
	}
	if err := sim.Start(addr); err != nil {
		return nil, fmt.Errorf("crmsim: listen on %s: %w", addr, err)
	}
	if opts.ChurnInterval > 0 {
		go func() {
			if err := sim.Churn(ctx, opts.ChurnInterval, opts.ChurnPerTick); err != nil && !errors.Is(err, context.Canceled) {
				opts.Logger.Error("churn stopped", "err", err)
			}
		}()
	}
	return sim, nil
}
