package main

import (
	"flag"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/client"
	"github.com/gormic/crm-bridge/internal/deadletter"
)

// clientFlags are the settings of the subcommands that work through NATS
// beside a running bridge (client.Config.RegisterFlags).
type clientFlags struct{ client.Config }

// clientFlagSet returns the flag set of client subcommand name ("get",
// "dlq list"; see flagSet and usage), with the clientFlags registered.
func clientFlagSet(e env, name string) (*flag.FlagSet, *clientFlags) {
	fs, cf := flagSet(e, "bridge "+name, usage(name)), &clientFlags{}
	cf.RegisterFlags(fs, e.getenv)
	return fs, cf
}

// connect dials NATS once (client.Config.Connect) as subcommand name.
func (c clientFlags) connect(name string) (*nats.Conn, jetstream.JetStream, error) {
	return c.Connect("crm-bridge " + name + " " + version)
}

// queue connects to NATS as name and returns its dead-letter queue, and
// the function that closes the connection.
func (c clientFlags) queue(name string) (deadletter.Queue, func(), error) {
	nc, js, err := c.connect(name)
	if err != nil {
		return deadletter.Queue{}, nil, err
	}
	return deadletter.Queue{JS: js, Subjects: c.Subjects(), Timeout: c.Timeout}, nc.Close, nil
}
