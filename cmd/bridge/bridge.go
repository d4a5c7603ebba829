package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/gormic/crm-bridge/internal/bridge"
	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/gcpace"
	"github.com/gormic/crm-bridge/internal/logbuf"
	"github.com/gormic/crm-bridge/internal/tracing"
)

// stopTimeout bounds a graceful stop after SIGINT or SIGTERM.
const stopTimeout = bridge.StopTimeout

func runBridge(ctx context.Context, e env, args []string) error {
	cfg, err := loadConfig(e, "run", args, nil, nil)
	if err != nil {
		return err
	}
	// A line per command: written from a goroutine of their own, the lines
	// of many commands share a write (internal/logbuf).
	out := logbuf.New(e.stderr)
	defer out.Close()
	return serve(ctx, e, cfg, newLoggerTo(cfg.LogFormat, cfg.LogLevel, e.stderr, out), 0)
}

// loadConfig parses the settings of a bridge subcommand and validates
// them, reporting every problem on its own line. extra registers the
// subcommand's own flags, and adjust may change the configuration before
// it is validated; either may be nil.
func loadConfig(e env, name string, args []string, extra func(*flag.FlagSet), adjust func(*config.Config)) (config.Config, error) {
	fs := flag.NewFlagSet("bridge "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if extra != nil {
		extra(fs)
	}
	cfg, err := config.Load(fs, args, e.getenv)
	if errors.Is(err, flag.ErrHelp) {
		printConfigUsage(e.stdout, name, extra)
		return cfg, err
	}
	if errors.Is(err, config.ErrFlags) {
		return cfg, usagef("%v (bridge %s --help lists the settings)", err, name)
	}
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if adjust != nil {
		adjust(&cfg)
	}
	// A value that did not parse kept its default, so Validate reports
	// only the other problems: all of them at once.
	err = errors.Join(err, cfg.Validate())
	if err != nil {
		return cfg, fmt.Errorf("invalid configuration (bridge %s --help lists the settings):\n  %s", name, strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	return cfg, nil
}

// printConfigUsage prints the help of bridge subcommand name: every
// setting, then the flags that extra (may be nil) registers.
func printConfigUsage(w io.Writer, name string, extra func(*flag.FlagSet)) {
	fmt.Fprintf(w, "Usage: bridge %s [flags]\n\nEvery setting is an environment variable or the flag beside it; flags win.\n\n", name)
	config.PrintUsage(w)
	if extra != nil {
		fmt.Fprintf(w, "\nFlags of bridge %s alone:\n", name)
		own := flag.NewFlagSet(name, flag.ContinueOnError)
		extra(own)
		own.SetOutput(w)
		own.PrintDefaults()
	}
}

// serve runs a bridge until ctx ends, then stops it gracefully and
// flushes its spans (bridge.Run); natsPort is the embedded server's (see
// bridge.Options.EmbeddedPort). It is the one place that builds the
// tracer provider, from the OTEL_* variables of e.
func serve(ctx context.Context, e env, cfg config.Config, log *slog.Logger, natsPort int) error {
	tp, err := tracing.Setup(ctx, e.getenv, version)
	if err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	log.Info("crm-bridge starting", "version", version, "nats", natsDesc(cfg), "crm_url", config.RedactURL(cfg.CRMURL),
		"org_id", cfg.CRMOrgID, "subject_prefix", cfg.SubjectPrefix, "concurrency", cfg.Concurrency, "traces", tracesDesc(tp),
		"gc", gcpace.Desc(e.getenv, cfg.NATSURL == ""))
	if gcpace.Paced(e.getenv, cfg.NATSURL == "") {
		pacer := gcpace.Start(gcpace.Headroom)
		defer pacer.Stop()
	}
	return bridge.Run(ctx, cfg, bridge.Options{Logger: log, Version: version, EmbeddedPort: natsPort}, tp)
}

// tracesDesc says where spans go, fit to be logged.
func tracesDesc(tp *tracing.Provider) string {
	if !tp.Exporting() {
		return "off (trace context propagated)"
	}
	return config.RedactURL(tp.Endpoint)
}

// natsDesc says which NATS the bridge uses, fit to be printed.
func natsDesc(cfg config.Config) string {
	if cfg.NATSURL == "" {
		return "embedded"
	}
	return config.RedactURL(strings.ReplaceAll(cfg.NATSURL, " ", ""))
}
