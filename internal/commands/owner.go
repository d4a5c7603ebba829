package commands

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gormic/crm-bridge/internal/lease"
	"github.com/gormic/crm-bridge/internal/streams"
)

// owner decides which partitions this process runs. Every renewal period
// it renews its membership and its leases, takes free partitions up to its
// fair share (partitions divided by live processes, rounded up) and hands
// back one partition beyond it, so that the partitions spread over the
// processes that share a NATS deployment.
type owner struct {
	p      *Processor
	leases *lease.Leases
	every  time.Duration

	mu   sync.Mutex
	held map[int]*partition
	cons []jetstream.Consumer // by partition
}

func leaseKey(i int) string      { return "commands.partition." + strconv.Itoa(i) }
func memberKey(id string) string { return "commands.member." + id }

// run keeps the process's share of partitions until ctx ends.
func (o *owner) run(ctx context.Context) {
	t := time.NewTicker(o.every)
	defer t.Stop()
	for {
		o.tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *owner) tick(ctx context.Context) {
	log := o.p.log
	members := o.members(ctx)
	share := (len(o.cons) + members - 1) / members

	o.mu.Lock()
	defer o.mu.Unlock()
	for i, pt := range o.held {
		if err := o.leases.Renew(ctx, pt.lease); errors.Is(err, lease.ErrLost) {
			log.Error("lost a partition; its commands go to the process that holds it now", "partition", i, "err", err)
			pt.lose()
			delete(o.held, i)
		} else if err != nil && ctx.Err() == nil {
			log.Warn("cannot renew a partition lease", "partition", i, "err", err)
		}
	}
	for _, i := range rand.Perm(len(o.cons)) {
		if len(o.held) >= share || ctx.Err() != nil {
			break
		}
		if _, mine := o.held[i]; mine {
			continue
		}
		ls, err := o.leases.Acquire(ctx, leaseKey(i))
		if err != nil {
			log.Warn("cannot take a partition", "partition", i, "err", err)
			continue
		}
		if ls == nil {
			continue // another process runs it
		}
		pt := o.p.newPartition(strconv.Itoa(i), ls, o.cons[i])
		if err := pt.start(ctx); err != nil {
			log.Error("cannot pull a partition's commands", "partition", i, "err", err)
			_ = o.leases.Release(ctx, ls)
			continue
		}
		o.held[i] = pt
		log.Debug("took a partition", "partition", i, "held", len(o.held), "share", share)
	}
	if len(o.held) > share {
		for i, pt := range o.held {
			delete(o.held, i)
			log.Info("handing a partition to another process", "partition", i, "held", len(o.held), "share", share)
			o.p.workers.Go(func() { pt.stop(o.p.cfg.StopTimeout, o.leases) })
			break
		}
	}
}

// members renews the process's membership and returns how many processes
// are members (at least 1, this one), telling Config.OnProcesses when it
// could count them. A process that stopped left; one that died counts
// until its membership expires (LeaseTTL).
func (o *owner) members(ctx context.Context) int {
	if _, err := o.leases.KV.Put(ctx, memberKey(o.leases.Owner), nil); err != nil && ctx.Err() == nil {
		o.p.log.Warn("cannot renew membership", "err", err)
	}
	keys, err := o.leases.KV.ListKeysFiltered(ctx, memberKey("*"))
	if err != nil {
		return 1
	}
	n := 0
	for range keys.Keys() {
		n++
	}
	if n == 0 {
		return 1 // not even this one: the listing failed
	}
	if o.p.cfg.OnProcesses != nil {
		o.p.cfg.OnProcesses(n)
	}
	return n
}

// stopAll stops every partition gracefully and leaves the membership.
func (o *owner) stopAll() {
	o.mu.Lock()
	held := o.held
	o.held = map[int]*partition{}
	o.mu.Unlock()
	var wg sync.WaitGroup
	for _, pt := range held {
		wg.Go(func() { pt.stop(o.p.cfg.StopTimeout, o.leases) })
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = o.leases.KV.Delete(ctx, memberKey(o.leases.Owner))
}

// ensureConsumers creates or updates the partitions' consumers.
func (p *Processor) ensureConsumers(ctx context.Context) ([]jetstream.Consumer, error) {
	out := make([]jetstream.Consumer, p.layout.Partitions)
	for i := range p.layout.Partitions {
		c, err := p.consumer(ctx, jetstream.ConsumerConfig{
			Durable:       p.layout.Consumer(i),
			Description:   fmt.Sprintf("crm-bridge: updates and deletes of partition %d of %d", i, p.layout.Partitions),
			FilterSubject: p.layout.Filter(i),
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       p.cfg.AckWait,
			MaxDeliver:    -1,
			MaxAckPending: p.cfg.Concurrency,
		})
		if err != nil {
			return nil, fmt.Errorf("commands: consumer %s: %w", p.layout.Consumer(i), err)
		}
		out[i] = c
	}
	return out, nil
}

// heldCount returns how many partitions the process runs.
func (o *owner) heldCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.held)
}

// consumer returns the durable consumer cfg describes, creating or
// updating it only when it differs: processes that start together would
// otherwise update the same consumers at once.
func (p *Processor) consumer(ctx context.Context, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	c, err := p.js.Consumer(ctx, streams.Commands, cfg.Durable)
	if err == nil {
		have := c.CachedInfo().Config
		if have.Description == cfg.Description && have.FilterSubject == cfg.FilterSubject && have.AckPolicy == cfg.AckPolicy &&
			have.AckWait == cfg.AckWait && have.MaxDeliver == cfg.MaxDeliver && have.MaxAckPending == cfg.MaxAckPending {
			return c, nil
		}
	}
	return p.js.CreateOrUpdateConsumer(ctx, streams.Commands, cfg)
}
