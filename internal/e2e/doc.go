// Package e2e is the bridge's end-to-end fault suite: it builds the bridge
// binary, runs it as child processes against real NATS servers (one, or a
// three-node cluster, each a child process of the test binary) and the
// CRM simulator (in the test's process, over loopback HTTP), breaks
// one of them in each scenario, and checks the same invariants after every
// scenario. The package holds only tests; docs/reliability.md lists the
// scenarios and what each shows. Run it with `make e2e`.
package e2e
