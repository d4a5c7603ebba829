package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// usageError is a wrong command line; main exits with status 2 for it.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// command is one subcommand of the bridge.
type command struct {
	name, args, summary string
	run                 func(ctx context.Context, e env, args []string) error
}

// env is what a subcommand may touch of the outside world.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func subcommands() []command {
	return []command{
		{"run", "[flags]", "run the bridge (the default)", runBridge},
		{"dev", "[flags]", "embedded NATS, a seeded CRM simulator and the bridge, in one process", runDev},
		{"crmsim", "--addr HOST:PORT [flags]", "serve the CRM simulator", runCRMSim},
		{"publish", "create|update|delete [ID] [BODY]", "publish a command, wait for its result and print it", runPublish},
		{"watch", "[--json] [--all] [--customer ID]", "print change events and results as they arrive", runWatch},
		{"resync", "[flags]", "ask the active poller for a complete export now and print its progress", runResync},
		{"get", "ID [--fresh] [--json]", "print a customer from the read model (or the CRM with --fresh)", runGet},
		{"find", "--phone P | --email E [--json]", "print the customers with that phone's digits or that email", runFind},
		{"list", "[--limit N] [--after CURSOR] [--json]", "print a page of customers in id order", runList},
		{"dlq", "list|replay|discard [flags]", "show dead letters; replay them as new commands, or discard them", runDLQ},
		{"version", "", "print the version", func(_ context.Context, e env, _ []string) error {
			_, err := fmt.Fprintln(e.stdout, "bridge", version)
			return err
		}},
	}
}

// run is the whole program: it reads the environment only through getenv
// and writes only to stdout and stderr, so tests can call it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	name := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" {
		printHelp(stdout)
		return nil
	}
	for _, c := range subcommands() {
		if c.name == name {
			return c.run(ctx, e, args)
		}
	}
	return usagef("unknown command %q (bridge help lists the commands)", name)
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "Usage: bridge [command] [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range subcommands() {
		fmt.Fprintf(w, "  %-8s %-34s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintf(w, "  %-8s %-34s %s\n", "help", "", "print this help")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Settings are environment variables or flags: bridge run --help lists them.")
}

// usages holds the help of each client subcommand in usage/NAME.txt (a
// space in NAME as "-"): its synopsis on the first line, then what it does.
//
//go:embed usage
var usages embed.FS

// usage returns the help of client subcommand name ("get", "dlq list").
func usage(name string) string {
	b, err := usages.ReadFile("usage/" + strings.ReplaceAll(name, " ", "-") + ".txt")
	if err != nil {
		panic(err) // a bug: every test of the subcommand finds it
	}
	return strings.TrimSuffix(string(b), "\n")
}

// flagSet returns a flag set that reports to e.stderr and returns errors
// instead of exiting.
func flagSet(e env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: %s\n\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseErr turns a flag parsing error into a usageError, or passes
// flag.ErrHelp on.
func parseErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usagef("%v", err)
}

// parseFlags parses fs from args (parseInterspersed), and refuses any
// positional argument with a usageError that starts with what.
func parseFlags(fs *flag.FlagSet, args []string, what string) error {
	pos, err := parseInterspersed(fs, args)
	if err == nil && len(pos) > 0 {
		err = usagef("%s: unexpected argument %q", what, pos[0])
	}
	return err
}

// parseInterspersed parses fs from args, allowing flags after positional
// arguments too (`dlq replay 12 --dry-run`; everything after "--" is
// positional), and returns the positional arguments; its error is a
// usageError, or flag.ErrHelp (see parseErr).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, parseErr(err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if i := len(args) - len(rest) - 1; i >= 0 && args[i] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
