package bridge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/tracing"
)

// StopTimeout bounds Run's graceful stop once its context ends (SIGINT or
// SIGTERM, for the binary).
const StopTimeout = 30 * time.Second

// Run starts a bridge with cfg and opts, with tp as its tracer provider,
// runs it until ctx ends, then stops it gracefully within StopTimeout and
// shuts tp down, flushing its spans (a failed flush is logged, not
// returned). It returns Start's error (tp shut down too), or Stop's.
// opts.Logger is required.
func Run(ctx context.Context, cfg config.Config, opts Options, tp *tracing.Provider) error {
	opts.TracerProvider = tp
	b := New(cfg, opts)
	if err := b.Start(ctx); err != nil {
		return errors.Join(err, tp.Shutdown(context.Background()))
	}
	<-ctx.Done()
	opts.Logger.Info("stopping", "timeout", StopTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
	defer cancel()
	err := b.Stop(sctx)
	if terr := tp.Shutdown(sctx); terr != nil {
		opts.Logger.Warn("spans not all exported", "err", terr)
	}
	if err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	opts.Logger.Info("stopped")
	return nil
}
