package config

import (
	"bytes"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func load(t *testing.T, args []string, vars map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return Load(fs, args, env(vars))
}

func valid() map[string]string {
	return map[string]string{
		"BRIDGE_CRM_URL":     "http://127.0.0.1:8081",
		"BRIDGE_CRM_API_KEY": "s3cret-key",
		"BRIDGE_CRM_ORG_ID":  "org-1",
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := load(t, nil, valid())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	want := Default()
	want.CRMURL, want.CRMAPIKey, want.CRMOrgID = "http://127.0.0.1:8081", "s3cret-key", "org-1"
	if c != want {
		t.Errorf("got %+v, want %+v", c, want)
	}
	if !c.NATSSync.Always() {
		t.Errorf("got sync %v, want always by default", c.NATSSync)
	}
}

func TestLoadEnvAndFlags(t *testing.T) {
	vars := valid()
	vars["BRIDGE_CRM_TIMEOUT"] = "3s"
	vars["BRIDGE_CONCURRENCY"] = "8"
	vars["BRIDGE_NATS_SYNC"] = "1s"
	vars["BRIDGE_LOG_LEVEL"] = "debug"
	vars["BRIDGE_PPROF"] = "true"
	c, err := load(t, []string{"--concurrency", "64", "--poller-initial-events", "--crm-rate=0"}, vars)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"env only", c.CRMTimeout, 3 * time.Second},
		{"flag wins over env", c.Concurrency, 64},
		{"bool flag without value", c.PollerInitialEvents, true},
		{"zero rate means no limit", c.CRMRate, 0.0},
		{"sync interval", c.NATSSync, SyncPolicy{Interval: time.Second}},
		{"level", c.LogLevel, slog.LevelDebug},
		{"pprof", c.PProf, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

func TestLoadReportsEveryProblemByName(t *testing.T) {
	vars := map[string]string{
		"BRIDGE_CRM_TIMEOUT":     "soon",
		"BRIDGE_CONCURRENCY":     "many",
		"BRIDGE_NATS_SYNC":       "sometimes",
		"BRIDGE_STREAM_REPLICAS": "x",
		"BRIDGE_LOG_LEVEL":       "loud",
	}
	_, err := load(t, nil, vars)
	if err == nil {
		t.Fatal("got no error")
	}
	for name := range vars {
		if !strings.Contains(err.Error(), name+": ") {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != len(vars) {
		t.Errorf("got %d lines, want one per problem (%d):\n%v", n, len(vars), err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]string
		want string
	}{
		{"missing CRM URL", map[string]string{"BRIDGE_CRM_URL": ""}, "BRIDGE_CRM_URL: required"},
		{"CRM URL not http", map[string]string{"BRIDGE_CRM_URL": "ftp://x"}, "BRIDGE_CRM_URL: "},
		{"missing key", map[string]string{"BRIDGE_CRM_API_KEY": ""}, "BRIDGE_CRM_API_KEY: required"},
		{"missing org", map[string]string{"BRIDGE_CRM_ORG_ID": ""}, "BRIDGE_CRM_ORG_ID: required"},
		{"negative rate", map[string]string{"BRIDGE_CRM_RATE": "-1"}, "BRIDGE_CRM_RATE: "},
		{"zero timeout", map[string]string{"BRIDGE_CRM_TIMEOUT": "0s"}, "BRIDGE_CRM_TIMEOUT: "},
		{"zero poll interval", map[string]string{"BRIDGE_POLL_INTERVAL": "0s"}, "BRIDGE_POLL_INTERVAL: "},
		{"prefix with a dot", map[string]string{"BRIDGE_SUBJECT_PREFIX": "a.b"}, "BRIDGE_SUBJECT_PREFIX: "},
		{"prefix wildcard", map[string]string{"BRIDGE_SUBJECT_PREFIX": ">"}, "BRIDGE_SUBJECT_PREFIX: "},
		{"zero concurrency", map[string]string{"BRIDGE_CONCURRENCY": "0"}, "BRIDGE_CONCURRENCY: "},
		{"replicas", map[string]string{"BRIDGE_STREAM_REPLICAS": "7"}, "BRIDGE_STREAM_REPLICAS: "},
		{"log format", map[string]string{"BRIDGE_LOG_FORMAT": "xml"}, "BRIDGE_LOG_FORMAT: "},
		{"nats url", map[string]string{"BRIDGE_NATS_URL": "http://x:4222"}, "BRIDGE_NATS_URL: "},
		{"nats url list with a hole", map[string]string{"BRIDGE_NATS_URL": "nats://a:4222,,nats://b:4222"}, "BRIDGE_NATS_URL: "},
		{"user without password", map[string]string{"BRIDGE_NATS_USER": "u"}, "BRIDGE_NATS_USER: "},
		{"missing creds file", map[string]string{"BRIDGE_NATS_CREDS": "/nonexistent/x.creds"}, "BRIDGE_NATS_CREDS: "},
		{"missing CA file", map[string]string{"BRIDGE_NATS_TLS_CA": "/nonexistent/ca.pem"}, "BRIDGE_NATS_TLS_CA: "},
		{"client certificate without key", map[string]string{"BRIDGE_NATS_TLS_CERT": "/nonexistent/c.pem"}, "BRIDGE_NATS_TLS_KEY: required with BRIDGE_NATS_TLS_CERT"},
		{"client key without certificate", map[string]string{"BRIDGE_NATS_TLS_KEY": "/nonexistent/k.pem"}, "BRIDGE_NATS_TLS_CERT: required with BRIDGE_NATS_TLS_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := valid()
			for k, v := range tt.set {
				vars[k] = v
			}
			c, err := load(t, nil, vars)
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	t.Run("accepts a list of NATS URLs", func(t *testing.T) {
		vars := valid()
		vars["BRIDGE_NATS_URL"] = "nats://a:4222, tls://b:4222,c:4222"
		c, err := load(t, nil, vars)
		if err == nil {
			err = c.Validate()
		}
		if err != nil {
			t.Errorf("got %v, want none", err)
		}
	})
}

func TestAPIKeyFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "key")
	if err := os.WriteFile(file, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := valid()
	delete(vars, "BRIDGE_CRM_API_KEY")
	vars["BRIDGE_CRM_API_KEY_FILE"] = file
	c, err := load(t, nil, vars)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CRMAPIKey.Reveal(); got != "from-file" {
		t.Errorf("got key %q, want %q", got, "from-file")
	}

	vars["BRIDGE_CRM_API_KEY"] = "also"
	if _, err := load(t, nil, vars); err == nil || !strings.Contains(err.Error(), "BRIDGE_CRM_API_KEY_FILE: ") {
		t.Errorf("both set: got %v, want an error naming BRIDGE_CRM_API_KEY_FILE", err)
	}
	delete(vars, "BRIDGE_CRM_API_KEY")
	vars["BRIDGE_CRM_API_KEY_FILE"] = filepath.Join(dir, "missing")
	if _, err := load(t, nil, vars); err == nil || !strings.Contains(err.Error(), "BRIDGE_CRM_API_KEY_FILE: ") {
		t.Errorf("missing file: got %v, want an error naming BRIDGE_CRM_API_KEY_FILE", err)
	}
}

func TestSecretsNeverShown(t *testing.T) {
	vars := valid()
	vars["BRIDGE_NATS_USER"] = "u"
	vars["BRIDGE_NATS_PASSWORD"] = "hunter2-password"
	c, err := load(t, nil, vars)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("config", "config", c, "key", c.CRMAPIKey, "password", c.NATSPassword)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("config", "key", c.CRMAPIKey)
	for _, secret := range []string{"s3cret-key", "hunter2-password"} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log output holds a secret: %s", buf.String())
		}
	}
	if !strings.Contains(buf.String(), "[redacted]") {
		t.Errorf("got %s, want [redacted] in place of secrets", buf.String())
	}
}

func TestPrintUsageListsEverySetting(t *testing.T) {
	var buf bytes.Buffer
	PrintUsage(&buf)
	for _, s := range settings {
		if !strings.Contains(buf.String(), s.env) || !strings.Contains(buf.String(), "--"+s.flag()) {
			t.Errorf("usage lacks %s / --%s", s.env, s.flag())
		}
	}
	for _, want := range []string{`BRIDGE_CRM_TIMEOUT\s+10s\s`, `BRIDGE_RETRY_MAX_ELAPSED\s+15m\s`, `BRIDGE_NATS_SYNC\s+always\s`} {
		if !regexp.MustCompile(want).MatchString(buf.String()) {
			t.Errorf("usage lacks %q:\n%s", want, buf.String())
		}
	}
}
