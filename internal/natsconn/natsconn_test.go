package natsconn

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/tlstest"
)

// pair issues a certificate for name signed by ca, and returns its file,
// its key's file and the key's PEM text.
func pair(t *testing.T, ca *tlstest.Authority, name string) (cert, key, keyPEM string) {
	t.Helper()
	cert, key = ca.Issue(name, x509.ExtKeyUsageClientAuth)
	b, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key, string(b)
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	ca := tlstest.New(t, "natsconn test CA")
	cert, key, keyPEM := pair(t, ca, "a")
	_, otherKey, otherPEM := pair(t, ca, "b")
	tests := []struct {
		name string
		auth Auth
		want []string // each a line of the error; none: no error
	}{
		{"neither", Auth{}, nil},
		{"a pair", Auth{CA: ca.File, Cert: cert, Key: key}, nil},
		{"certificate without key", Auth{Cert: cert}, []string{"BRIDGE_NATS_TLS_KEY: required with BRIDGE_NATS_TLS_CERT"}},
		{"key without certificate", Auth{Key: key}, []string{"BRIDGE_NATS_TLS_CERT: required with BRIDGE_NATS_TLS_KEY"}},
		{"missing files, all reported", Auth{CA: "/nonexistent/ca.pem", Cert: "/nonexistent/c.pem", Key: dir},
			[]string{"BRIDGE_NATS_TLS_CA: open /nonexistent/ca.pem", "BRIDGE_NATS_TLS_CERT: open /nonexistent/c.pem", "BRIDGE_NATS_TLS_KEY: read " + dir}},
		{"not a pair", Auth{Cert: cert, Key: otherKey}, []string{"BRIDGE_NATS_TLS_CERT, BRIDGE_NATS_TLS_KEY: " + cert + " and " + otherKey + " are not a certificate and its key"}},
		{"key as certificate", Auth{Cert: key, Key: key}, []string{"BRIDGE_NATS_TLS_CERT, BRIDGE_NATS_TLS_KEY: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.auth.Check()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("got %d lines, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if i < len(lines) && !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d: got %q, want it to start with %q", i, lines[i], w)
				}
			}
			for _, secret := range []string{keyPEM, otherPEM, "PRIVATE KEY"} {
				if strings.Contains(err.Error(), strings.TrimSpace(secret)) {
					t.Errorf("the error shows a key: %v", err)
				}
			}
		})
	}
}

func TestTLSRefused(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}, false},
		{"alert", &net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, true},
		{"alert, unwrapped by nats.go", fmt.Errorf("nats: %s", "remote error: tls: unknown certificate authority"), true},
		{"server not trusted", x509.UnknownAuthorityError{}, true},
		{"closed after the handshake", fmt.Errorf("%w: connection closed by remote after TLS handshake: %w", nats.ErrTLS, io.EOF), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TLSRefused(tt.err); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
