package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/crmsim/simtest"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/tlstest"
)

// Issue 15, part 5: mutual TLS to NATS. The server verifies its clients'
// certificates (verify: true) against a throwaway CA. With a certificate
// of that CA the bridge and its client subcommands work; without one, or
// with one of another CA, the bridge stops at start with an error that
// names the settings, not a key.
func TestNATSMutualTLS(t *testing.T) {
	ca := tlstest.New(t, "crm-bridge test CA")
	serverCert, serverKey := ca.Issue("127.0.0.1", x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := ca.Issue("crm-bridge", x509.ExtKeyUsageClientAuth)
	other := tlstest.New(t, "another CA")
	otherCert, otherKey := other.Issue("crm-bridge", x509.ExtKeyUsageClientAuth)

	conf := filepath.Join(t.TempDir(), "nats.conf")
	text := fmt.Sprintf("tls {\n  cert_file: %q\n  key_file: %q\n  ca_file: %q\n  verify: true\n}\n", serverCert, serverKey, ca.File)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := natstest.Start(t, embedded.Options{StoreDir: t.TempDir(), ConfigFile: conf})
	if url := srv.ClientURL(); !strings.HasPrefix(url, "tls://127.0.0.1:") {
		t.Fatalf("ClientURL %s, want tls://127.0.0.1:...", url)
	}
	// The server really verifies: trusting it is not enough.
	if nc, err := nats.Connect(srv.ClientURL(), nats.RootCAs(ca.File), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("a connection without a client certificate succeeded")
	}
	nc, js := natstest.Connect(t, srv, nats.RootCAs(ca.File), nats.ClientCert(clientCert, clientKey))
	sim := simtest.Start(t, crmsim.Options{APIKey: "k", OrgID: "o", RandSeed: 3})
	w := &world{t: t, srv: srv, nc: nc, js: js, sim: sim, subj: streams.Subjects{Prefix: "crm"}}
	env := w.env()
	env["BRIDGE_NATS_TLS_CA"] = ca.File

	keyPEM := map[string]string{}
	for _, f := range []string{clientKey, otherKey} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		keyPEM[f] = string(b)
	}
	refused := []struct {
		name      string
		cert, key string
	}{
		{"no client certificate", "", ""},
		{"a certificate of another CA", otherCert, otherKey},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			vars := maps.Clone(env)
			if tt.cert != "" {
				vars["BRIDGE_NATS_TLS_CERT"], vars["BRIDGE_NATS_TLS_KEY"] = tt.cert, tt.key
			}
			// The bridge stops at start instead of retrying for ever.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := run(ctx, []string{"run"}, func(k string) string { return vars[k] }, strings.NewReader(""), io.Discard, io.Discard)
			if ctx.Err() != nil {
				t.Fatalf("bridge run was still running after 30s (returned %v), want it to stop at start", err)
			}
			checkRefused(t, err, keyPEM)
			// So does a client subcommand.
			_, _, err = cli(t, vars, "", "dlq", "list")
			checkRefused(t, err, keyPEM)
		})
	}

	// With the CA's client certificate the bridge applies a command that
	// `bridge publish` sends, and `bridge dlq list` reads.
	env["BRIDGE_NATS_TLS_CERT"], env["BRIDGE_NATS_TLS_KEY"] = clientCert, clientKey
	startBridge(t, env)
	w.waitConsumers()
	out, stderr, err := cli(t, env, "", "publish", "create", `{"firstName":"Mia","phone":"5550103"}`)
	if err != nil || !strings.HasPrefix(out, "applied create cus_") {
		t.Fatalf("publish over mutual TLS: got %q, %v (stderr %q), want applied", out, err, stderr)
	}
	if out, _, err := cli(t, env, "", "dlq", "list"); err != nil {
		t.Fatalf("dlq list over mutual TLS: %v (%q)", err, out)
	}
}

// checkRefused checks a refusal's error: it names the client certificate
// settings and the server, and shows no key.
func checkRefused(t *testing.T, err error, keys map[string]string) {
	t.Helper()
	if err == nil {
		t.Fatal("got no error")
	}
	msg := err.Error()
	for _, want := range []string{"refused the TLS handshake", "BRIDGE_NATS_TLS_CERT", "BRIDGE_NATS_TLS_KEY", "tls://127.0.0.1:"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	for _, k := range keys {
		if strings.Contains(msg, "PRIVATE KEY") || strings.Contains(msg, strings.TrimSpace(k)) {
			t.Errorf("error shows a key: %v", err)
		}
	}
	t.Logf("refused: %v", err)
}
