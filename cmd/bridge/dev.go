package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/crmsim"
)

// Dev mode's simulator credentials: dev mode runs on loopback only.
const (
	devAPIKey = "dev-key"
	devOrgID  = "dev-org"
)

// runDev runs the embedded NATS server, a seeded CRM simulator whose
// customers change by themselves, and the bridge, in one process.
func runDev(ctx context.Context, e env, args []string) error {
	simAddr := "127.0.0.1:8081"
	seed := 100
	churn := 5 * time.Second
	extra := func(fs *flag.FlagSet) {
		fs.StringVar(&simAddr, "crmsim-addr", simAddr, "address of the CRM simulator")
		fs.IntVar(&seed, "seed-customers", seed, "customers the simulator starts with")
		fs.DurationVar(&churn, "churn-interval", churn, "a simulated CRM user changes a customer this often (0: never)")
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
	if useSim {
		opts := crmsim.Options{
			APIKey: devAPIKey, OrgID: devOrgID,
			SeedCustomers: seed, ChurnInterval: churn, ChurnPerTick: 1,
			Logger: log.With("component", "crmsim"),
		}
		sim, err := startSimulator(ctx, opts, crmsim.Faults{}, simAddr)
		if err != nil {
			return err
		}
		defer sim.Close()
		cfg.CRMURL = sim.URL()
	}
	banner(e.stdout, cfg)
	return serve(ctx, cfg, log)
}

func banner(w io.Writer, cfg config.Config) {
	nats := "nats://127.0.0.1:4222 (embedded, data in " + cfg.DataDir + ")"
	if cfg.NATSURL != "" {
		nats = cfg.NATSURL
	}
	fmt.Fprintf(w, `
crm-bridge dev mode
  NATS      %s
  CRM       %s (simulator, api-key %q, organization-id %q)
  health    http://%s/readyz   metrics http://%s/metrics

Watch results and change events (with the nats CLI, or any NATS client):
  nats sub '%s.customer.>'
Publish a command:
  nats pub %s.customer.create '{"firstName":"Ada","phone":"5550100"}' -H Nats-Msg-Id:cmd-1
Stop with Ctrl-C.

`, nats, cfg.CRMURL, devAPIKey, devOrgID, cfg.HTTPAddr, cfg.HTTPAddr, cfg.SubjectPrefix, cfg.SubjectPrefix)
}
