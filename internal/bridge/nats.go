package bridge

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gormic/crm-bridge/internal/config"
)

// connect dials NATS with the configured credentials and keeps
// reconnecting for as long as the process runs, also when the first dial
// fails: the bridge then starts unready instead of exiting.
func connect(cfg config.Config, url, version string, log *slog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("crm-bridge " + version),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.RetryOnFailedConnect(true),
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
	if cfg.NATSCreds != "" {
		opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
	}
	if cfg.NATSUser != "" {
		opts = append(opts, nats.UserInfo(cfg.NATSUser, cfg.NATSPassword.Reveal()))
	}
	if cfg.NATSTLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.NATSTLSCA))
	}
	nc, err := nats.Connect(strings.ReplaceAll(url, " ", ""), opts...)
	if err != nil {
		return nil, fmt.Errorf("nats: connect: %w", err)
	}
	return nc, nil
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
