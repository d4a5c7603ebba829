package bridge

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/config"
	"github.com/gormic/crm-bridge/internal/natsconn"
)

// connect dials NATS with the configured credentials and keeps
// reconnecting for as long as the process runs, also when the first dial
// fails: the bridge then starts unready instead of exiting. A first dial
// that fails on the TLS handshake (a client certificate missing or not
// trusted, a server certificate not trusted) is an error instead, naming
// the settings to check: retrying would not help.
func connect(cfg config.Config, url, version string, log *slog.Logger) (*nats.Conn, error) {
	opts := append(connectionOptions(version, log), cfg.NATSAuth().Options()...)
	url = strings.ReplaceAll(url, " ", "")
	nc, err := nats.Connect(url, opts...)
	if err == nil {
		return nc, nil
	}
	if natsconn.TLSRefused(err) {
		return nil, fmt.Errorf("nats: connect: %w", natsconn.Explain(err, config.RedactURL(url)))
	}
	log.Warn("nats unreachable, retrying", "url", config.RedactURL(url), "err", err)
	nc, err = nats.Connect(url, append(opts, nats.RetryOnFailedConnect(true))...)
	if err != nil {
		return nil, fmt.Errorf("nats: connect: %w", err)
	}
	return nc, nil
}

// connectionOptions name the connection, reconnect for ever once a second,
// and log disconnections, reconnections and asynchronous errors.
func connectionOptions(version string, log *slog.Logger) []nats.Option {
	return []nats.Option{
		nats.Name("crm-bridge " + version),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			// ConnectedUrlRedacted hides a password, not a token.
			log.Info("nats reconnected", "url", config.RedactURL(nc.ConnectedUrl()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Error("nats error", "subject", subject, "err", err)
		}),
	}
}

// natsHealth reports the connection's state for /readyz.
func natsHealth(nc *nats.Conn) func() error {
	return func() error {
		if nc.IsConnected() {
			return nil
		}
		if err := nc.LastError(); err != nil {
			return fmt.Errorf("not connected (%s): %v", nc.Status(), err)
		}
		return fmt.Errorf("not connected (%s)", nc.Status())
	}
}
