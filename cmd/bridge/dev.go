package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/crmsim"
)

// Dev mode's simulator credentials: dev mode runs on loopback only.
const (
	devAPIKey = "dev-key"
	devOrgID  = "dev-org"
)

// runDev runs the embedded NATS server, a CRM simulator whose customers
// change by themselves, and the bridge, in one process. The simulator is
// seeded on a first start and keeps its customers in the data dir
// (crmsim.StateFileName), so that a second start carries on.
func runDev(ctx context.Context, e env, args []string) (err error) {
	simAddr := "127.0.0.1:8081"
	seed := 100
	churn := 5 * time.Second
	natsPort := 4222
	extra := func(fs *flag.FlagSet) {
		fs.StringVar(&simAddr, "crmsim-addr", simAddr, "address of the CRM simulator")
		fs.IntVar(&seed, "seed-customers", seed, "customers the simulator starts with, when the data dir holds none ("+crmsim.StateFileName+")")
		fs.DurationVar(&churn, "churn-interval", churn, "a simulated CRM user changes a customer this often (0: never)")
		fs.IntVar(&natsPort, "nats-port", natsPort, "port of the embedded NATS server, when BRIDGE_NATS_URL is not set (-1: any free port, see the log)")
	}
	useSim := false
	cfg, err := loadConfig(e, "dev", args, extra, func(c *config.Config) {
		if c.CRMURL == "" { // the simulator's, once it listens
			useSim = true
			c.CRMURL, c.CRMAPIKey, c.CRMOrgID = "http://"+simAddr, devAPIKey, devOrgID
		}
	})
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat, cfg.LogLevel, e.stderr)
	statePath := ""
	if useSim {
		simLog := log.With("component", "crmsim")
		state := &crmsim.StateFile{Path: filepath.Join(cfg.DataDir, crmsim.StateFileName), Log: simLog}
		opts := crmsim.Options{
			APIKey: devAPIKey, OrgID: devOrgID,
			SeedCustomers: seed, ChurnInterval: churn, ChurnPerTick: 1,
			Logger: simLog,
		}
		var sim *crmsim.Simulator
		var closeSim func() error
		if sim, closeSim, err = state.Launch(ctx, opts, simAddr); err != nil {
			return err
		}
		defer func() { err = errors.Join(err, closeSim()) }() // err is runDev's result
		cfg.CRMURL = sim.URL()
		statePath = state.Path
	}
	banner(e.stdout, cfg, statePath, natsPort)
	return serve(ctx, e, cfg, log, natsPort)
}

// banner tells where each part listens, where the state is kept, and what
// to try next. simState is the simulator's state file, "" when dev runs
// against another CRM.
func banner(w io.Writer, cfg config.Config, simState string, natsPort int) {
	var b strings.Builder
	row := func(name, format string, args ...any) {
		fmt.Fprintf(&b, "  %-9s "+format+"\n", append([]any{name}, args...)...)
	}
	b.WriteString("\ncrm-bridge dev mode\n")
	if cfg.NATSURL == "" {
		if natsPort < 0 {
			row("NATS", "embedded, on a free port (the log says which)")
		} else {
			row("NATS", "nats://127.0.0.1:%d (embedded)", natsPort)
		}
	} else {
		row("NATS", "%s", natsDesc(cfg))
	}
	if simState != "" {
		row("CRM", "%s (simulator, api-key %q, organization-id %q)", cfg.CRMURL, devAPIKey, devOrgID)
	} else {
		row("CRM", "%s", config.RedactURL(cfg.CRMURL))
	}
	if cfg.HTTPAddr != "" {
		row("health", "http://%s/readyz   metrics http://%s/metrics", cfg.HTTPAddr, cfg.HTTPAddr)
	}
	switch {
	case cfg.NATSURL == "" && simState != "":
		row("state", "%s (JetStream, and the simulator in %s): a restart carries on", cfg.DataDir, filepath.Base(simState))
	case cfg.NATSURL == "":
		row("state", "%s (JetStream): a restart carries on", cfg.DataDir)
	case simState != "":
		row("state", "%s (the simulator's): a restart carries on", simState)
	}

	// The client subcommands read the same variables as the bridge.
	var vars []string
	switch {
	case cfg.NATSURL != "":
		vars = append(vars, "BRIDGE_NATS_URL="+natsDesc(cfg))
	case natsPort >= 0 && natsPort != 4222:
		vars = append(vars, fmt.Sprintf("BRIDGE_NATS_URL=nats://127.0.0.1:%d", natsPort))
	case natsPort < 0:
		vars = append(vars, "BRIDGE_NATS_URL=<the URL the log shows>")
	}
	if cfg.SubjectPrefix != config.Default().SubjectPrefix {
		vars = append(vars, "BRIDGE_SUBJECT_PREFIX="+cfg.SubjectPrefix)
	}
	tries := [][2]string{
		{`publish create '{"firstName":"Ada","phone":"5550100"}'`, "prints the result"},
		{"watch", "events and results as they arrive"},
		{"list --limit 5", "customers from the read model (also get ID, find --phone P)"},
		{"dlq list", "dead letters"},
	}
	width := 0
	for _, t := range tries {
		width = max(width, len(t[0]))
	}
	b.WriteString("\nTry, in another terminal (bin/bridge works the same after make build):\n")
	if len(vars) > 0 {
		fmt.Fprintf(&b, "  export %s\n", strings.Join(vars, " "))
	}
	for _, t := range tries {
		fmt.Fprintf(&b, "  go run ./cmd/bridge %-*s  # %s\n", width, t[0], t[1])
	}
	fmt.Fprintf(&b, `Or with the nats CLI:
  nats sub '%[1]s.customer.>'
  nats pub %[1]s.customer.create '{"firstName":"Ada","phone":"5550100"}' -H Nats-Msg-Id:cmd-1
  nats kv get CRM_CUSTOMERS <key>                # a customer's record (key: its id when plain)
  nats req %[1]s.customer.get.<customer id> ''   # the same, through the bridge
Stop with Ctrl-C.

`, cfg.SubjectPrefix)
	_, _ = io.WriteString(w, b.String())
}
