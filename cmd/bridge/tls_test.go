package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/commands"
	"github.com/gormic/crm-bridge/internal/crmsim"
	"github.com/gormic/crm-bridge/internal/embedded"
	"github.com/gormic/crm-bridge/internal/eventually"
	"github.com/gormic/crm-bridge/internal/natstest"
	"github.com/gormic/crm-bridge/internal/streams"
	"github.com/gormic/crm-bridge/internal/tlstest"
)

// Issue 6: TLS to NATS and to the CRM works with a test CA. The bridge
// trusts the NATS server through BRIDGE_NATS_TLS_CA and the CRM through
// the system roots, which SSL_CERT_FILE replaces on Linux; without the
// latter its CRM calls fail on the certificate and nothing is applied.
func TestTLSWithTestCA(t *testing.T) {
	caFile, cert := testCA(t)

	srv := natstest.Start(t, embedded.Options{
		StoreDir:  t.TempDir(),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	})
	if url := srv.ClientURL(); !strings.HasPrefix(url, "tls://127.0.0.1:") {
		t.Fatalf("ClientURL %s, want tls://127.0.0.1:...", url)
	}
	// A plain connection to the NATS server is refused: it really is TLS.
	if nc, err := nats.Connect(strings.Replace(srv.ClientURL(), "tls://", "nats://", 1), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("a plain connection to the TLS NATS server succeeded")
	}
	nc, js := natstest.Connect(t, srv, nats.RootCAs(caFile))

	sim, err := crmsim.New(crmsim.Options{APIKey: "k", OrgID: "o", RandSeed: 3, ValidateResponses: true})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(sim.Handler())
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusting bridge's handshake errors
	hs.StartTLS()
	t.Cleanup(func() {
		hs.Close()
		sim.Close()
		for _, err := range sim.ResponseErrors() {
			t.Errorf("simulator answer invalid: %v", err)
		}
	})
	if !strings.HasPrefix(hs.URL, "https://127.0.0.1:") {
		t.Fatalf("simulator URL %s, want https://127.0.0.1:...", hs.URL)
	}

	w := &world{t: t, srv: srv, nc: nc, js: js, sim: sim, subj: streams.Subjects{Prefix: "crm"}}
	env := w.env()
	env["BRIDGE_CRM_URL"] = hs.URL
	env["BRIDGE_NATS_TLS_CA"] = caFile
	trusting := map[string]string{"SSL_CERT_FILE": caFile}
	for k, v := range env {
		trusting[k] = v
	}

	// With the CA as its system roots the bridge applies a command.
	good := startBridge(t, trusting)
	w.waitConsumers()
	w.publishAsync(w.subj.Create(), "tls-1", []byte(`{"firstName":"Tess","phone":"5550101"}`))
	w.waitPublished()
	eventually.True(t, 30*time.Second, "no result for the command sent over TLS", func() bool { return w.resultCount() >= 1 })
	r, ok := w.results()["tls-1"]
	if !ok || r.Status != commands.StatusApplied || r.CustomerID == "" {
		t.Fatalf("result %+v (found: %v), want applied with a customer id", r, ok)
	}
	if c, ok := sim.Customer(r.CustomerID); !ok || c.FirstName != "Tess" {
		t.Fatalf("the simulator holds %+v (found: %v) for %s, want Tess", c, ok, r.CustomerID)
	}
	// SIGTERM: the bridge hands its partitions over at once.
	_ = good.Stop(t, 30*time.Second) // fails the test if it does not stop

	// Without it (the NATS CA alone) the bridge reaches NATS but not the
	// CRM: its calls fail on the certificate and nothing is applied.
	// (An SSL_CERT_FILE of the test's own environment is inherited; it
	// cannot hold the CA just made.)
	bad := startBridge(t, env)
	w.publishAsync(w.subj.Create(), "tls-2", []byte(`{"firstName":"Ute","phone":"5550102"}`))
	w.waitPublished()
	var certErr string
	eventually.True(t, 30*time.Second, "the untrusting bridge logged no certificate error for the command", func() bool {
		for line := range strings.Lines(bad.logs()) {
			if strings.Contains(line, `"tls-2"`) && strings.Contains(line, "certificate") {
				certErr = line
				return true
			}
		}
		return false
	})
	t.Logf("untrusting bridge: %s", strings.TrimSpace(certErr))
	if r, ok := w.results()["tls-2"]; ok && r.Status == commands.StatusApplied {
		t.Errorf("the untrusting bridge applied the command: %+v", r)
	}
	creates := 0
	for _, c := range sim.Changes() {
		if c.Op == crmsim.ChangeCreate && c.Via == "api" {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("the simulator made %d customers, want 1 (the trusting bridge's)", creates)
	}
}

// testCA makes a throwaway CA and a certificate for 127.0.0.1 signed by
// it, as PEM files in a temporary directory. It returns the CA's file and
// the server's certificate, loaded from its files.
func testCA(t *testing.T) (caFile string, cert tls.Certificate) {
	t.Helper()
	ca := tlstest.New(t, "crm-bridge test CA")
	certFile, keyFile := ca.Issue("127.0.0.1", x509.ExtKeyUsageServerAuth)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return ca.File, cert
}
