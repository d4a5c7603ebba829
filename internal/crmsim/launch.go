package crmsim

import (
	"context"
	"errors"
	"fmt"
)

// Launch makes a simulator with opts, sets its faults, fills it (fill, or
// when fill is nil Seed with opts.SeedCustomers), starts it on addr and,
// when opts asks for churn, changes customers until ctx ends (logging to
// opts.Logger why churn stopped, if not ctx). The caller closes it. It
// returns New's, SetFaults', fill's and Start's errors.
func Launch(ctx context.Context, opts Options, faults Faults, addr string, fill func(*Simulator) error) (*Simulator, error) {
	sim, err := New(opts)
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
				sim.log.Error("churn stopped", "err", err)
			}
		}()
	}
	return sim, nil
}
