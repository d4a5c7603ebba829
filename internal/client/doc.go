// Package client is what the bridge's client subcommands (publish, watch,
// get, find, list, dlq) do through NATS beside a running bridge: connect
// (Config), publish a command and wait for its result (Publish), ask the
// crm-bridge service (Query), read change events and results as they
// arrive (Watch), and learn who the connection is (Whoami). It declares
// its settings as flags (Config.RegisterFlags) and formats for a person
// the queries' replies (Customer.Line, Found.Text), results and the
// messages of a watch (Palette), but parses no command line and prints
// nothing: cmd/bridge does, with what it returns.
package client
