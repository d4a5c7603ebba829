// Package deadletter owns the dead letters of CRM_DLQ: their format, their
// writing (by the command processor, internal/commands), and their reading,
// lineage, replay, discard and the check for newer commands (by the
// `bridge dlq` subcommands).
//
// # Format
//
// The dead letter of a command that was not applied is stored on
// <prefix>.customer.dlq.<op> (op create, update, delete or unknown). It
// keeps the command's body and headers, less the Nats-* headers (they
// ruled the command's publish to CRM_COMMANDS, and CRM_DLQ would refuse
// some of them) and its trace context (replaced by that of the command's
// span), and adds:
//
//	Nats-Msg-Id       dlq-<command id>
//	Command-Id        the command id: its Nats-Msg-Id, or its stream sequence
//	Dlq-Status        rejected or failed
//	Dlq-Reason        <code>: <message>, for a person
//	Original-Subject  the subject the command was published to
//
// # Lineage
//
// A replay republishes the dead letter's command to its Original-Subject
// as a new command, <root>-replay-<n> with the header Replay-Of <root>,
// where root is the id of the command first published and n counts the
// replays. The dead letter of a replay carries Replay-Of with the rest of
// the command's headers, so every dead letter says which command it is the
// dead letter of, and how many replays deep (Letter.Lineage), however often
// it is asked. A dead letter is removed only once its replay is stored.
package deadletter
