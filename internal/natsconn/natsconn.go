// Package natsconn is how every crm-bridge process logs in to NATS, the
// bridge and its client subcommands alike: credentials, user and
// password, the CAs that the servers' certificates must chain to, and the
// client certificate of mutual TLS.
package natsconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
)

// Auth is how a process proves who it is to NATS and which servers it
// trusts. The zero value logs in with nothing and trusts the system's
// roots. Each field names its setting (environment variable) in its doc.
type Auth struct {
	// Creds is a credentials file (BRIDGE_NATS_CREDS).
	Creds string
	// User and Password log in with a user and password
	// (BRIDGE_NATS_USER, BRIDGE_NATS_PASSWORD).
	User, Password string
	// CA is a PEM file of CAs for the servers' certificates
	// (BRIDGE_NATS_TLS_CA). Default: the system's roots.
	CA string
	// Cert and Key are the PEM files of the client certificate and its
	// private key, for servers that verify their clients (mutual TLS:
	// BRIDGE_NATS_TLS_CERT, BRIDGE_NATS_TLS_KEY). Both or neither.
	Cert, Key string
}

// Options returns the nats.go options of a.
func (a Auth) Options() []nats.Option {
	var opts []nats.Option
	if a.Creds != "" {
		opts = append(opts, nats.UserCredentials(a.Creds))
	}
	if a.User != "" {
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	}
	if a.CA != "" {
		opts = append(opts, nats.RootCAs(a.CA))
	}
	if a.Cert != "" || a.Key != "" {
		opts = append(opts, nats.ClientCert(a.Cert, a.Key))
	}
	return opts
}

// Check reports every problem of the TLS files at once, each naming its
// setting: a client certificate without its key or a key without its
// certificate, a file that cannot be read, and a certificate and key that
// are not a pair. It never shows a file's content.
func (a Auth) Check() error {
	var errs []error
	switch {
	case a.Cert != "" && a.Key == "":
		errs = append(errs, errors.New("BRIDGE_NATS_TLS_KEY: required with BRIDGE_NATS_TLS_CERT (mutual TLS needs both)"))
	case a.Cert == "" && a.Key != "":
		errs = append(errs, errors.New("BRIDGE_NATS_TLS_CERT: required with BRIDGE_NATS_TLS_KEY (mutual TLS needs both)"))
	}
	readable := true
	for _, f := range []struct{ env, path string }{{"BRIDGE_NATS_TLS_CA", a.CA}, {"BRIDGE_NATS_TLS_CERT", a.Cert}, {"BRIDGE_NATS_TLS_KEY", a.Key}} {
		if f.path == "" {
			continue
		}
		if err := canRead(f.path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.env, err))
			readable = false
		}
	}
	if a.Cert != "" && a.Key != "" && readable {
		if _, err := tls.LoadX509KeyPair(a.Cert, a.Key); err != nil {
			errs = append(errs, fmt.Errorf("BRIDGE_NATS_TLS_CERT, BRIDGE_NATS_TLS_KEY: %s and %s are not a certificate and its key: %v", a.Cert, a.Key, err))
		}
	}
	return errors.Join(errs...)
}

// TLSRefused reports whether err, from a connection attempt, is a failed
// TLS handshake: the server refused the client's certificate (or its
// absence), or the client did not trust the server's. Such a failure does
// not go away by retrying; an unreachable server does.
func TLSRefused(err error) bool {
	if err == nil {
		return false
	}
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var op *net.OpError
	switch {
	case errors.Is(err, nats.ErrTLS):
		// A failed handshake, or the server closing the connection right
		// after one: how it refuses a certificate under TLS 1.3.
		return true
	case errors.As(err, &verify), errors.As(err, &unknown), errors.As(err, &hostname), errors.As(err, &invalid):
		return true
	case errors.As(err, &op) && op.Op == "remote error":
		return true // a TLS alert from the server
	}
	// nats.go does not wrap every error it returns.
	msg := err.Error()
	return strings.Contains(msg, "remote error: tls:") || strings.Contains(msg, "tls: failed to verify certificate")
}

// Explain returns err with what to check when it is a refused TLS
// handshake (see TLSRefused), and err itself otherwise. url is shown as
// given; pass it redacted.
func Explain(err error, url string) error {
	if !TLSRefused(err) {
		return err
	}
	return fmt.Errorf("NATS at %s refused the TLS handshake: %w (check BRIDGE_NATS_TLS_CERT and BRIDGE_NATS_TLS_KEY, the client certificate that a server verifying its clients needs, signed by a CA it trusts, and BRIDGE_NATS_TLS_CA, the CAs of the server's certificate)", url, err)
}

// canRead reads path: a missing file, a directory and a file without
// read permission all fail, each with the path in its error.
func canRead(path string) error {
	_, err := os.ReadFile(path)
	return err
}
