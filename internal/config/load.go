package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gormic/crm-bridge/internal/natsconn"
)

// setting is one configuration variable: its environment name, its flag
// (derived), its meaning, and how it is parsed into a Config.
type setting struct {
	env    string
	usage  string
	def    func(Config) string
	parse  func(c *Config, v string) error
	secret bool
	// boolean settings are flags that need no value (--poller-initial-events).
	boolean bool
}

// Flag returns the setting's flag name: the variable without BRIDGE_, in
// kebab case.
func (s setting) flag() string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(s.env, "BRIDGE_")), "_", "-")
}

var settings = []setting{
	{env: "BRIDGE_NATS_URL", usage: "NATS server URL(s), comma separated; empty: embedded JetStream on 127.0.0.1:4222",
		def: func(c Config) string { return c.NATSURL }, parse: func(c *Config, v string) error { c.NATSURL = v; return nil }},
	{env: "BRIDGE_NATS_CREDS", usage: "NATS credentials file",
		def: func(c Config) string { return c.NATSCreds }, parse: func(c *Config, v string) error { c.NATSCreds = v; return nil }},
	{env: "BRIDGE_NATS_USER", usage: "NATS user",
		def: func(c Config) string { return c.NATSUser }, parse: func(c *Config, v string) error { c.NATSUser = v; return nil }},
	{env: "BRIDGE_NATS_PASSWORD", usage: "NATS password", secret: true,
		def: func(c Config) string { return "" }, parse: func(c *Config, v string) error { c.NATSPassword = Secret(v); return nil }},
	{env: "BRIDGE_NATS_TLS_CA", usage: "PEM file of CAs for the NATS servers' certificates",
		def: func(c Config) string { return c.NATSTLSCA }, parse: func(c *Config, v string) error { c.NATSTLSCA = v; return nil }},
	{env: "BRIDGE_NATS_TLS_CERT", usage: "PEM file of the client certificate, for NATS servers that verify their clients (with BRIDGE_NATS_TLS_KEY)",
		def: func(c Config) string { return c.NATSTLSCert }, parse: func(c *Config, v string) error { c.NATSTLSCert = v; return nil }},
	{env: "BRIDGE_NATS_TLS_KEY", usage: "PEM file of the client certificate's private key (with BRIDGE_NATS_TLS_CERT)",
		def: func(c Config) string { return c.NATSTLSKey }, parse: func(c *Config, v string) error { c.NATSTLSKey = v; return nil }},
	{env: "BRIDGE_DATA_DIR", usage: "embedded server's store (and, in dev, the simulator's crmsim.json)",
		def: func(c Config) string { return c.DataDir }, parse: func(c *Config, v string) error { c.DataDir = v; return nil }},
	{env: "BRIDGE_NATS_SYNC", usage: "embedded server's fsync policy: always, or an interval such as 1s",
		def: func(c Config) string { return c.NATSSync.String() }, parse: parseSync},
	{env: "BRIDGE_STREAM_REPLICAS", usage: "replicas of the streams and KV buckets the bridge creates (3 on a cluster)",
		def: func(c Config) string { return strconv.Itoa(c.StreamReplicas) }, parse: intInto(func(c *Config) *int { return &c.StreamReplicas })},
	{env: "BRIDGE_CRM_URL", usage: "CRM base URL (required); /v1/crm/customers... is appended",
		def: func(c Config) string { return c.CRMURL }, parse: func(c *Config, v string) error { c.CRMURL = v; return nil }},
	{env: "BRIDGE_CRM_API_KEY", usage: "CRM api-key header (required, or BRIDGE_CRM_API_KEY_FILE)", secret: true,
		def: func(c Config) string { return "" }, parse: func(c *Config, v string) error { c.CRMAPIKey = Secret(v); return nil }},
	{env: "BRIDGE_CRM_API_KEY_FILE", usage: "file holding the CRM api key",
		def: func(c Config) string { return c.CRMAPIKeyFile }, parse: func(c *Config, v string) error { c.CRMAPIKeyFile = v; return nil }},
	{env: "BRIDGE_CRM_ORG_ID", usage: "CRM organization-id header (required)",
		def: func(c Config) string { return c.CRMOrgID }, parse: func(c *Config, v string) error { c.CRMOrgID = v; return nil }},
	{env: "BRIDGE_CRM_RATE", usage: "most CRM requests per second of all bridge processes on one NATS, shared among those alive (0: no limit), lowered further by 429",
		def: func(c Config) string { return strconv.FormatFloat(c.CRMRate, 'g', -1, 64) }, parse: parseRate},
	{env: "BRIDGE_CRM_TIMEOUT", usage: "timeout of one CRM request",
		def: func(c Config) string { return shortDuration(c.CRMTimeout) }, parse: durationInto(func(c *Config) *time.Duration { return &c.CRMTimeout })},
	{env: "BRIDGE_SUBJECT_PREFIX", usage: "first subject token",
		def: func(c Config) string { return c.SubjectPrefix }, parse: func(c *Config, v string) error { c.SubjectPrefix = v; return nil }},
	{env: "BRIDGE_CONCURRENCY", usage: "commands in flight at once (never two for one customer)",
		def: func(c Config) string { return strconv.Itoa(c.Concurrency) }, parse: intInto(func(c *Config) *int { return &c.Concurrency })},
	{env: "BRIDGE_RETRY_MAX_ELAPSED", usage: "how long one command is retried before it is failed",
		def: func(c Config) string { return shortDuration(c.RetryMaxElapsed) }, parse: durationInto(func(c *Config) *time.Duration { return &c.RetryMaxElapsed })},
	{env: "BRIDGE_POLL_INTERVAL", usage: "change poller period",
		def: func(c Config) string { return shortDuration(c.PollInterval) }, parse: durationInto(func(c *Config) *time.Duration { return &c.PollInterval })},
	{env: "BRIDGE_RECONCILE_INTERVAL", usage: "period of the full export that finds deleted customers",
		def: func(c Config) string { return shortDuration(c.ReconcileInterval) }, parse: durationInto(func(c *Config) *time.Duration { return &c.ReconcileInterval })},
	{env: "BRIDGE_POLLER_INITIAL_EVENTS", usage: "on a first start, emit created for every existing customer", boolean: true,
		def: func(c Config) string { return strconv.FormatBool(c.PollerInitialEvents) }, parse: boolInto(func(c *Config) *bool { return &c.PollerInitialEvents })},
	{env: "BRIDGE_HTTP_ADDR", usage: "address of /healthz, /readyz and /metrics",
		def: func(c Config) string { return c.HTTPAddr }, parse: func(c *Config, v string) error { c.HTTPAddr = v; return nil }},
	{env: "BRIDGE_PPROF", usage: "serve Go's profiles under /debug/pprof/ on BRIDGE_HTTP_ADDR", boolean: true,
		def: func(c Config) string { return strconv.FormatBool(c.PProf) }, parse: boolInto(func(c *Config) *bool { return &c.PProf })},
	{env: "BRIDGE_LOG_FORMAT", usage: "auto (coloured text on a terminal, JSON otherwise), text or json",
		def: func(c Config) string { return c.LogFormat }, parse: func(c *Config, v string) error { c.LogFormat = v; return nil }},
	{env: "BRIDGE_LOG_LEVEL", usage: "debug, info, warn or error",
		def: func(c Config) string { return strings.ToLower(c.LogLevel.String()) }, parse: parseLevel},
}

// ErrFlags is returned (wrapped) by Load when the command line does not
// parse: an unknown flag, or one without its value.
var ErrFlags = errors.New("bad command line")

// Load fills a Config from args (flags) and getenv, over Default. The flags
// are registered on fs, which Load parses; fs.Args() then holds what is
// left. Load returns every problem at once, each naming its variable; it
// does not call Validate. A command line that does not parse gives an error
// wrapping ErrFlags (or flag.ErrHelp for -h and --help).
func Load(fs *flag.FlagSet, args []string, getenv func(string) string) (Config, error) {
	given := registerFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Default(), err
		}
		return Default(), fmt.Errorf("%w: %v", ErrFlags, err)
	}
	c := Default()
	errs := applySettings(&c, given, getenv)
	if err := readAPIKeyFile(&c); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// registerFlags registers a flag on fs for every setting and returns the
// map in which parsing fs records the flags given, by name.
func registerFlags(fs *flag.FlagSet) map[string]string {
	given := map[string]string{}
	for _, s := range settings {
		name := s.flag()
		record := func(v string) error {
			given[name] = v
			return nil
		}
		if s.boolean {
			fs.BoolFunc(name, s.usage+" ("+s.env+")", record)
		} else {
			fs.Func(name, s.usage+" ("+s.env+")", record)
		}
	}
	return given
}

// applySettings parses into c every setting given, as a flag or else in
// the environment, and returns one error per value that does not parse,
// naming the variable and showing the value unless it is a secret.
func applySettings(c *Config, given map[string]string, getenv func(string) string) []error {
	var errs []error
	for _, s := range settings {
		v, ok := given[s.flag()]
		if !ok {
			v = strings.TrimSpace(getenv(s.env))
			if v == "" {
				continue
			}
		}
		if err := s.parse(c, v); err != nil {
			shown := strconv.Quote(RedactURL(v))
			if s.secret {
				shown = "the value"
			}
			errs = append(errs, fmt.Errorf("%s: %s %w", s.env, shown, err))
		}
	}
	return errs
}

// readAPIKeyFile sets c's CRM API key from BRIDGE_CRM_API_KEY_FILE, when
// that is set. It is an error when the file cannot be read or is empty, or
// when the key was given as well.
func readAPIKeyFile(c *Config) error {
	if c.CRMAPIKeyFile == "" {
		return nil
	}
	if c.CRMAPIKey != "" {
		return errors.New("BRIDGE_CRM_API_KEY_FILE: set either it or BRIDGE_CRM_API_KEY, not both")
	}
	b, err := os.ReadFile(c.CRMAPIKeyFile)
	switch {
	case err != nil:
		return fmt.Errorf("BRIDGE_CRM_API_KEY_FILE: %w", err)
	case strings.TrimSpace(string(b)) == "":
		return fmt.Errorf("BRIDGE_CRM_API_KEY_FILE: %s is empty", c.CRMAPIKeyFile)
	}
	c.CRMAPIKey = Secret(strings.TrimSpace(string(b)))
	return nil
}

// Validate reports every problem of c at once, one error per problem, each
// naming the variable. It checks what a running bridge needs, the CRM
// settings included.
func (c Config) Validate() error {
	var p problems
	c.checkNATS(&p)
	c.checkCRM(&p)
	c.checkWork(&p)
	switch c.LogFormat {
	case "auto", "text", "json":
	default:
		p.add("BRIDGE_LOG_FORMAT", "%q is not auto, text or json", c.LogFormat)
	}
	return errors.Join(p...)
}

// problems collects what Validate finds, in the order it checks.
type problems []error

// add records a problem of the variable env, described by format and args.
func (p *problems) add(env, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s: "+format, append([]any{env}, args...)...))
}

// checkNATS checks the NATS URLs, the credentials, the embedded server's
// store and the streams' replicas.
func (c Config) checkNATS(p *problems) {
	for _, u := range strings.Split(c.NATSURL, ",") {
		if u = strings.TrimSpace(u); u == "" && c.NATSURL != "" {
			p.add("BRIDGE_NATS_URL", "empty URL in the list %q", RedactURL(c.NATSURL))
		} else if u != "" && !validNATSURL(u) {
			p.add("BRIDGE_NATS_URL", "%q is not a NATS URL (nats://host:port, tls://, ws:// or wss://)", RedactURL(u))
		}
	}
	if (c.NATSUser == "") != (c.NATSPassword == "") {
		p.add("BRIDGE_NATS_USER", "BRIDGE_NATS_USER and BRIDGE_NATS_PASSWORD go together")
	}
	if c.NATSCreds != "" {
		if _, err := os.Stat(c.NATSCreds); err != nil {
			p.add("BRIDGE_NATS_CREDS", "%v", err)
		}
	}
	if err := c.NATSAuth().Check(); err != nil {
		*p = append(*p, err)
	}
	if c.NATSURL == "" && c.DataDir == "" {
		p.add("BRIDGE_DATA_DIR", "required for the embedded server")
	}
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		p.add("BRIDGE_STREAM_REPLICAS", "%d is out of range (1 to 5)", c.StreamReplicas)
	}
}

// checkCRM checks the CRM's URL, API key, organization and rate.
func (c Config) checkCRM(p *problems) {
	if c.CRMURL == "" {
		p.add("BRIDGE_CRM_URL", "required")
	} else if u, err := url.Parse(c.CRMURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add("BRIDGE_CRM_URL", "%q is not an http(s) URL", RedactURL(c.CRMURL))
	} else if u.User != nil {
		p.add("BRIDGE_CRM_URL", "%q holds a user or password; the CRM takes BRIDGE_CRM_API_KEY instead", RedactURL(c.CRMURL))
	}
	if c.CRMAPIKey == "" {
		p.add("BRIDGE_CRM_API_KEY", "required (or BRIDGE_CRM_API_KEY_FILE)")
	}
	if c.CRMOrgID == "" {
		p.add("BRIDGE_CRM_ORG_ID", "required")
	}
	if err := checkRate(c.CRMRate); err != nil {
		p.add("BRIDGE_CRM_RATE", "%v %v", c.CRMRate, err)
	}
}

// checkWork checks the workers' settings: their timeouts and intervals,
// which must be positive, the subject prefix and the concurrency.
func (c Config) checkWork(p *problems) {
	positive := []struct {
		env string
		d   time.Duration
	}{
		{"BRIDGE_CRM_TIMEOUT", c.CRMTimeout},
		{"BRIDGE_RETRY_MAX_ELAPSED", c.RetryMaxElapsed},
		{"BRIDGE_POLL_INTERVAL", c.PollInterval},
		{"BRIDGE_RECONCILE_INTERVAL", c.ReconcileInterval},
	}
	for _, d := range positive {
		if d.d <= 0 {
			p.add(d.env, "%v is not positive", d.d)
		}
	}
	if !validToken(c.SubjectPrefix) {
		p.add("BRIDGE_SUBJECT_PREFIX", "%q is not one subject token (no dots, spaces, * or >)", c.SubjectPrefix)
	}
	if c.Concurrency < 1 || c.Concurrency > 4096 {
		p.add("BRIDGE_CONCURRENCY", "%d is out of range (1 to 4096)", c.Concurrency)
	}
}

// NATSAuth returns how c logs in to NATS.
func (c Config) NATSAuth() natsconn.Auth {
	return natsconn.Auth{
		Creds:    c.NATSCreds,
		User:     c.NATSUser,
		Password: c.NATSPassword.Reveal(),
		CA:       c.NATSTLSCA,
		Cert:     c.NATSTLSCert,
		Key:      c.NATSTLSKey,
	}
}

// PrintUsage writes every setting with its flag, variable and default.
func PrintUsage(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	def := Default()
	fmt.Fprintln(tw, "FLAG\tVARIABLE\tDEFAULT\tMEANING")
	for _, s := range settings {
		d := s.def(def)
		if d == "" {
			d = "-"
		}
		fmt.Fprintf(tw, "--%s\t%s\t%s\t%s\n", s.flag(), s.env, d, s.usage)
	}
	tw.Flush()
}

func validNATSURL(s string) bool {
	if !strings.Contains(s, "://") {
		s = "nats://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	switch u.Scheme {
	case "nats", "tls", "ws", "wss":
		return true
	}
	return false
}

func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}

func parseSync(c *Config, v string) error {
	if v == "always" {
		c.NATSSync = SyncPolicy{}
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return errors.New(`is neither "always" nor a positive interval such as 1s`)
	}
	c.NATSSync = SyncPolicy{Interval: d}
	return nil
}

// parseRate takes a finite, non-negative number of requests per second:
// strconv.ParseFloat also reads "NaN" and "Inf", which no limiter can use.
func parseRate(c *Config, v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return errors.New("is not a number")
	}
	if err := checkRate(f); err != nil {
		return err
	}
	c.CRMRate = f
	return nil
}

// checkRate reports why f cannot be BRIDGE_CRM_RATE, or nil.
func checkRate(f float64) error {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return errors.New("is not a finite number of requests per second (0: no limit)")
	case f < 0:
		return errors.New("is negative (0: no limit)")
	}
	return nil
}

func parseLevel(c *Config, v string) error {
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		return errors.New("is not debug, info, warn or error")
	}
	c.LogLevel = l
	return nil
}

func boolInto(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("is not true or false")
		}
		*field(c) = b
		return nil
	}
}

func intInto(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("is not a whole number")
		}
		*field(c) = n
		return nil
	}
}

func durationInto(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New("is not a duration such as 10s or 1m30s")
		}
		*field(c) = d
		return nil
	}
}

// shortDuration writes d as people write it: 15m rather than 15m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
