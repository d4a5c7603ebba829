package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/crmsim"
)

// Dev mode's simulator credentials: dev mode runs on loopback only.
const (
	devAPIKey = "dev-key"
	devOrgID  = "dev-org"
)

// devFlags are bridge dev's own flags, beside the bridge's settings.
type devFlags struct {
	simAddr  string
	seed     int
	churn    time.Duration
	natsPort int
}

func (d *devFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.simAddr, "crmsim-addr", "127.0.0.1:8081", "address of the CRM simulator")
	fs.IntVar(&d.seed, "seed-customers", 100, "customers the simulator starts with, when the data dir holds none ("+crmsim.StateFileName+")")
	fs.DurationVar(&d.churn, "churn-interval", 5*time.Second, "a simulated CRM user changes a customer this often (0: never)")
	fs.IntVar(&d.natsPort, "nats-port", 4222, "port of the embedded NATS server, when BRIDGE_NATS_URL is not set (-1: any free port, see the log)")
}

// runDev runs the embedded NATS server, a CRM simulator whose customers
// change by themselves, and the bridge, in one process. The simulator is
// seeded on a first start and keeps its customers in the data dir
// (crmsim.StateFileName), so that a second start carries on.
func runDev(ctx context.Context, e env, args []string) (err error) {
	var d devFlags
	useSim := false
	cfg, err := loadConfig(e, "dev", args, d.register, func(c *config.Config) {
		if c.CRMURL == "" { // the simulator's, once it listens
			useSim = true
			c.CRMURL, c.CRMAPIKey, c.CRMOrgID = "http://"+d.simAddr, devAPIKey, devOrgID
		}
	})
	if err != nil {
		return err
	}
	log := newLogger(cfg.LogFormat, cfg.LogLevel, e.stderr)
	statePath := ""
	if useSim {
		state := &crmsim.StateFile{Path: filepath.Join(cfg.DataDir, crmsim.StateFileName), Log: log.With("component", "crmsim")}
		opts := crmsim.Options{
			APIKey: devAPIKey, OrgID: devOrgID,
			SeedCustomers: d.seed, ChurnInterval: d.churn, ChurnPerTick: 1,
			Logger: state.Log,
		}
		sim, closeSim, launchErr := state.Launch(ctx, opts, d.simAddr)
		if launchErr != nil {
			return launchErr
		}
		defer func() { err = errors.Join(err, closeSim()) }() // err is runDev's result
		cfg.CRMURL, statePath = sim.URL(), state.Path
	}
	banner(e.stdout, cfg, statePath, d.natsPort)
	return serve(ctx, e, cfg, log, d.natsPort)
}

//go:embed banner.tmpl
var bannerText string

var bannerTmpl = template.Must(template.New("banner").Parse(bannerText))

// bannerData fills banner.tmpl: each a line of it, left out when "".
type bannerData struct {
	NATS, CRM, HTTPAddr, State string
	Export                     string // the variables the client subcommands need, as `export` takes them
	Prefix                     string
}

// banner tells where each part listens, where the state is kept, and what
// to try next. simState is the simulator's state file, "" when dev runs
// against another CRM.
func banner(w io.Writer, cfg config.Config, simState string, natsPort int) {
	d := bannerData{NATS: natsDesc(cfg), CRM: config.RedactURL(cfg.CRMURL), HTTPAddr: cfg.HTTPAddr, Prefix: cfg.SubjectPrefix}
	switch {
	case cfg.NATSURL != "":
	case natsPort < 0:
		d.NATS = "embedded, on a free port (the log says which)"
	default:
		d.NATS = fmt.Sprintf("nats://127.0.0.1:%d (embedded)", natsPort)
	}
	if simState != "" {
		d.CRM = fmt.Sprintf("%s (simulator, api-key %q, organization-id %q)", cfg.CRMURL, devAPIKey, devOrgID)
	}
	switch {
	case cfg.NATSURL == "" && simState != "":
		d.State = fmt.Sprintf("%s (JetStream, and the simulator in %s)", cfg.DataDir, filepath.Base(simState))
	case cfg.NATSURL == "":
		d.State = cfg.DataDir + " (JetStream)"
	case simState != "":
		d.State = simState + " (the simulator's)"
	}
	d.Export = strings.Join(clientVars(cfg, natsPort), " ")
	var b strings.Builder
	_ = bannerTmpl.Execute(&b, d) // its data is the template's own
	_, _ = io.WriteString(w, b.String())
}

// clientVars returns the variables, NAME=value, that the client
// subcommands need beside bridge dev: they read the same as the bridge.
func clientVars(cfg config.Config, natsPort int) []string {
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
	return vars
}
