// Package streams defines the bridge's JetStream streams and subjects
// (docs/contract.md, "Streams") and creates or updates the streams at start.
package streams

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names. They do not depend on the subject prefix.
const (
	Commands = "CRM_COMMANDS"
	Events   = "CRM_EVENTS"
	DLQ      = "CRM_DLQ"
)

// Config says how the streams are made. The zero value is not valid:
// Prefix is required and Replicas at least 1.
type Config struct {
	// Prefix is the first token of every subject (BRIDGE_SUBJECT_PREFIX).
	Prefix string
	// Replicas of each stream (BRIDGE_STREAM_REPLICAS).
	Replicas int
	// Partitions is the number of command partitions (BRIDGE_CONCURRENCY):
	// updates and deletes are stored with a partition token derived from
	// their customer id; see Layout.
	Partitions int
}

// Retention of the streams. Commands and events are kept for a week, so
// a consumer that was down for a weekend still finds them; dead letters
// are kept until someone replays or removes them, since each is a command
// that did not take effect.
const (
	CommandsMaxAge = 7 * 24 * time.Hour
	EventsMaxAge   = 7 * 24 * time.Hour
	// CommandsDuplicates is the window in which a command published again
	// with the same Nats-Msg-Id is dropped by JetStream.
	CommandsDuplicates = 2 * time.Minute
	// EventsDuplicates, also the dead letters' window, covers a bridge
	// restart: a change event, result or dead letter published again after
	// a crash is dropped by JetStream.
	EventsDuplicates = time.Hour
)

// Definitions returns the three stream configurations for cfg.
func Definitions(cfg Config) []jetstream.StreamConfig {
	return []jetstream.StreamConfig{commandsStream(cfg), eventsStream(cfg), dlqStream(cfg)}
}

// commandsStream holds the commands, the updates and deletes under their
// partition token.
func commandsStream(cfg Config) jetstream.StreamConfig {
	s := Subjects{Prefix: cfg.Prefix}
	return jetstream.StreamConfig{
		Name:             Commands,
		Description:      "crm-bridge: commands to apply to the CRM",
		Subjects:         []string{s.Create(), s.Prefix + ".customer.update.*", s.Prefix + ".customer.delete.*"},
		SubjectTransform: Layout{Prefix: cfg.Prefix, Partitions: cfg.Partitions}.Transform(),
		Retention:        jetstream.LimitsPolicy,
		MaxAge:           CommandsMaxAge,
		Duplicates:       CommandsDuplicates,
		Storage:          jetstream.FileStorage,
		Replicas:         cfg.Replicas,
	}
}

// eventsStream holds the change events and the command results.
func eventsStream(cfg Config) jetstream.StreamConfig {
	s := Subjects{Prefix: cfg.Prefix}
	return jetstream.StreamConfig{
		Name:        Events,
		Description: "crm-bridge: customer change events and command results",
		Subjects:    []string{s.AllChanged(), s.Result()},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      EventsMaxAge,
		Duplicates:  EventsDuplicates,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		AllowDirect: true,
	}
}

// dlqStream holds the dead letters, with no age limit.
func dlqStream(cfg Config) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        DLQ,
		Description: "crm-bridge: commands that were rejected or failed",
		Subjects:    []string{cfg.Prefix + ".customer.dlq.*"},
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  EventsDuplicates,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
		AllowDirect: true,
	}
}

// Ensure creates the streams, or updates them to Definitions(cfg) where
// they exist. It fails with the stream's name when JetStream refuses, for
// instance a change of storage type or of replicas beyond the cluster.
func Ensure(ctx context.Context, js jetstream.JetStream, cfg Config) error {
	if cfg.Prefix == "" || cfg.Replicas < 1 || cfg.Partitions < 1 {
		return errors.New("streams: prefix, replicas and partitions are required")
	}
	for _, sc := range Definitions(cfg) {
		if s, err := js.Stream(ctx, sc.Name); err == nil && upToDate(s.CachedInfo().Config, sc) {
			continue // no update: several processes start at once
		}
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("streams: create or update %s: %w", sc.Name, err)
		}
	}
	return nil
}

// upToDate reports whether a stream's configuration has every setting the
// bridge makes as want has it.
func upToDate(have, want jetstream.StreamConfig) bool {
	return have.Description == want.Description &&
		slices.Equal(have.Subjects, want.Subjects) &&
		reflect.DeepEqual(have.SubjectTransform, want.SubjectTransform) &&
		have.Retention == want.Retention &&
		have.MaxAge == want.MaxAge &&
		have.Duplicates == want.Duplicates &&
		have.Storage == want.Storage &&
		have.Replicas == want.Replicas &&
		have.AllowDirect == want.AllowDirect
}
