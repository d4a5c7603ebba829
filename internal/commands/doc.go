// Package commands applies the customer commands that services publish to
// CRM_COMMANDS: it decodes and validates each one, applies it to the CRM
// with retries, stores exactly one result for it and dead-letters those
// that were rejected or failed.
//
// # Order per customer
//
// CRM_COMMANDS stores updates and deletes under a subject that ends in a
// partition token, computed by JetStream's subject transform from the
// customer id (streams.Layout): all of one customer's commands land in the
// same of streams.CommandPartitions partitions, in the order they were
// stored. Each partition has a durable consumer, and one process at a time
// runs it: the one that holds the partition's lease, an entry in the
// key-value bucket LeaseBucket that expires Config.LeaseTTL after its last
// renewal (owner.go). Within its partitions a process runs the commands of
// many customers at once, up to Config.Concurrency, but a customer's next
// command starts only after the previous one is finished: result stored and
// its ack confirmed by the server (partition.go). The confirmation is waited
// for only when it is needed: a command whose customer has a next command
// waiting is acknowledged with a double ack; any other with a plain ack,
// and its customer's next command, if one comes, first sends that ack
// again as a request and starts once the server answers, which it does
// once it has the ack (the first or this one).
//
// Why that holds when processes come and go:
//   - A process stops acting on a partition before its lease can expire: it
//     sends a command to the CRM only while the lease is certain to hold for
//     the call's whole timeout (lease.Lease.Valid), and drops the partition when a
//     renewal finds the lease taken.
//   - A process that stops hands back the commands it holds, in stream
//     order, and releases the lease; one that dies stops renewing, and the
//     commands it held are redelivered once their ack wait runs out.
//   - JetStream redelivers before anything newer, but in the order the ack
//     waits ran out, not necessarily in stream order. So a process that
//     takes a partition counts the partition's unacknowledged commands,
//     holds everything back until that many redeliveries have come (or the
//     ack wait has passed), and keeps each customer's waiting commands
//     sorted by stream sequence (partition.start).
//   - A command delivered twice to the same process (an ack wait missed, or
//     a plain ack lost) is recognised by its stream sequence and handled
//     once: while it is held, and for its ack wait and a margin after it
//     finished (a lost ack's command comes back within its ack wait; so a
//     customer's next command that comes after that margin starts without
//     asking for its predecessor's confirmation).
//
// Processes share partitions fairly: each takes up to its share (the
// partitions divided by the live processes, who renew a membership key in
// the same bucket) and hands back one partition beyond it. Creates name no
// customer yet (the id is the CRM's answer), so they have their own
// consumer, which every process pulls from, Concurrency pending at once.
//
// While the processor holds a command (waiting for a slot, for the CRM, or
// between retries) it tells JetStream every AckWait/3 that the command is in
// progress, from the second such tick it is held at (by two thirds of its
// ack wait; most commands finish before and cost no such message), so it is
// not delivered to anyone else meanwhile. MaxDeliver is
// unlimited: a command is never dropped by JetStream, it ends only with a
// result.
//
// # Exactly one result
//
// The dead letter (Nats-Msg-Id dlq-<command id>) and the result
// (result-<command id>) are stored before the command is acknowledged. A
// crash between the two makes JetStream deliver the command again; applying
// it again is harmless (an update that changes nothing and a delete of a
// customer already gone are applied), and JetStream drops the second result
// and dead letter as duplicates. A create is not idempotent in the CRM, so a
// create refused as a duplicate phone after an attempt whose answer was lost
// looks for the customer that attempt made (in the read model's phone
// index, Config.Model, then in the export since the command was published,
// less Config.LookupWindow) and ends applied with its id.
//
// # When the CRM is down or refuses the bridge
//
// Transient failures (no answer, timeouts, 408, 429, 5xx) are retried with
// exponential backoff and jitter, at least Retry-After apart, until
// Config.RetryMaxElapsed; then the command fails. After Config.OutageAfter
// calls in a row without an answer the processor stops taking new commands
// (Ready reports why) until a call, or a probe every Config.ProbeInterval,
// gets one. A 401 or 403 stops it likewise, loudly, without a result or a
// dead letter: the command waits for the CRM to accept the credentials.
//
// # Decoding bodies
//
// Decode (validate.go) checks a body with jsonscan.Valid (what
// encoding/json.Valid says, faster; encoding/json's SyntaxError for the
// message) and then walks the object's members
// with package jsonscan, which only finds where names and values lie.
// encoding/json alone cannot give the contract's errors: decoding into a
// struct merges duplicate names and matches names case-insensitively,
// and DisallowUnknownFields names the first unknown name only. Its
// Decoder, name by name with Token, can, but measured six times slower
// (BenchmarkDecodeCreate, about 7 µs and 96 allocations a body against 1
// µs and 4) on the path of every command. The value rules are
// go-playground/validator's tags (rules.go).
//
// # Trace context
//
// Each delivery of a command is one span, "command <op>" (trace.go), a
// child of the command's traceparent and tracestate headers. Its CRM
// calls, its result, its Reply-To answer and its dead letter carry that
// span's context; under the no-op tracer provider (the default) that is
// the command's own traceparent, so propagation never depends on an
// exporter.
package commands
