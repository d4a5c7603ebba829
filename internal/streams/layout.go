package streams

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Layout is how CRM_COMMANDS stores updates and deletes so that the
// bridge can keep one customer's commands in order: the stream's subject
// transform appends a layout token and a partition token computed by
// JetStream from the customer id,
//
//	crm.customer.update.<id>  is stored as  crm.customer.update.<id>.p16.<0..15>
//
// and each partition has its own consumer, run by one bridge process at a
// time (docs/commands.md). Creates name no customer and are stored as
// published. The layout token records the partition count, so that a later
// change of it would start a new layout instead of mixing two.
type Layout struct {
	Prefix     string
	Partitions int
}

// Token returns the layout token, e.g. "p16".
func (l Layout) Token() string { return "p" + strconv.Itoa(l.Partitions) }

// Transform returns the stream subject transform of the layout.
func (l Layout) Transform() *jetstream.SubjectTransformConfig {
	return &jetstream.SubjectTransformConfig{
		Source:      l.Prefix + ".customer.*.*",
		Destination: fmt.Sprintf("%s.customer.{{wildcard(1)}}.{{wildcard(2)}}.%s.{{partition(%d,2)}}", l.Prefix, l.Token(), l.Partitions),
	}
}

// Filter returns the subject filter of partition i.
func (l Layout) Filter(i int) string {
	return fmt.Sprintf("%s.customer.*.*.%s.%d", l.Prefix, l.Token(), i)
}

// Consumer returns the durable consumer name of partition i.
func (l Layout) Consumer(i int) string { return fmt.Sprintf("commands-%s-%d", l.Token(), i) }

// CommandPartitions is the number of command partitions. It bounds how
// many bridge processes share the work of updates and deletes (each
// partition is run by one process at a time), not how many commands run at
// once: a process runs commands of many customers of a partition together.
const CommandPartitions = 16

// CreateConsumer is the durable consumer of creates.
const CreateConsumer = "commands-create"

// ParseConsumer returns the partition count and index of a partition
// consumer's name; ok is false for any other name.
func ParseConsumer(name string) (partitions, index int, ok bool) {
	rest, found := strings.CutPrefix(name, "commands-p")
	if !found {
		return 0, 0, false
	}
	n, i, found := strings.Cut(rest, "-")
	if !found {
		return 0, 0, false
	}
	partitions, err1 := strconv.Atoi(n)
	index, err2 := strconv.Atoi(i)
	if err1 != nil || err2 != nil || partitions < 1 || index < 0 || index >= partitions {
		return 0, 0, false
	}
	return partitions, index, true
}

// Published returns the subject a stored command was published to: the
// stored subject without its layout and partition tokens.
func Published(stored string) string {
	tokens := strings.Split(stored, ".")
	if n := len(tokens); n == 6 && strings.HasPrefix(tokens[4], "p") {
		return strings.Join(tokens[:n-2], ".")
	}
	return stored
}
