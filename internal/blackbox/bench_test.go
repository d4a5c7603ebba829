package blackbox

import (
	"io"
	"os"
	"strconv"
	"testing"
	"time"
)

// stdout receives the tables; a variable so that the smoke test can
// silence them.
var stdout io.Writer = os.Stdout

// sizes are a run's sizes, each from an environment variable.
type sizes struct {
	rounds      int           // BENCH_ROUNDS: rounds of each scenario, floor and bridge alternating
	commands    int           // BENCH_COMMANDS: commands per round at CRM latency 0
	commands20  int           // BENCH_COMMANDS_20MS: commands per round at CRM latency 20 ms
	customers   int           // BENCH_CUSTOMERS: customers of the first start (and the changes), the first sync and the migration
	changes     int           // BENCH_CHANGES: customers changed after the first start
	bulk        int           // BENCH_BULK: customers changed at once, of BENCH_CUSTOMERS, in the bulk scenario
	cmdRate     int           // BENCH_COMMAND_RATE: commands per second, publish to result
	cmdTime     time.Duration // BENCH_COMMAND_SECONDS: how long, per round
	queryRate   int           // BENCH_QUERY_RATE: crm.customer.get requests per second
	queryTime   time.Duration // BENCH_QUERY_SECONDS: how long, per round
	queryCustom int           // BENCH_QUERY_CUSTOMERS: customers of the query scenario
	lookupCust  int           // BENCH_LOOKUP_CUSTOMERS: customers of the lookup scenario
	lookups     int           // BENCH_LOOKUPS: ambiguous creates per round

	// exportCustomers, exportPage and exportLatency are the simulator of
	// changes/during-export: BENCH_CUSTOMERS, benchPageSize and no latency;
	// in smoke, a small complete export made slow enough to outlast two
	// incremental polls, of more customers than the bridge runs one beside
	// them from (10,000).
	exportCustomers int
	exportPage      int
	exportLatency   time.Duration
}

// benchSizes are make bench's sizes, each overridden by its variable.
func benchSizes(tb testing.TB) sizes {
	tb.Helper()
	get := func(name string, def int) int {
		v := os.Getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			tb.Fatalf("%s=%q: want a positive integer", name, v)
		}
		return n
	}
	customers := get("BENCH_CUSTOMERS", 300_000)
	return sizes{
		rounds:      get("BENCH_ROUNDS", 3),
		commands:    get("BENCH_COMMANDS", 5000),
		commands20:  get("BENCH_COMMANDS_20MS", 6400),
		customers:   customers,
		changes:     get("BENCH_CHANGES", 1000),
		bulk:        get("BENCH_BULK", 100_000),
		cmdRate:     get("BENCH_COMMAND_RATE", 1000),
		cmdTime:     time.Duration(get("BENCH_COMMAND_SECONDS", 3)) * time.Second,
		queryRate:   get("BENCH_QUERY_RATE", 5000),
		queryTime:   time.Duration(get("BENCH_QUERY_SECONDS", 2)) * time.Second,
		queryCustom: get("BENCH_QUERY_CUSTOMERS", 10_000),
		lookupCust:  get("BENCH_LOOKUP_CUSTOMERS", 10_000),
		lookups:     get("BENCH_LOOKUPS", 20),

		exportCustomers: customers,
		exportPage:      benchPageSize,
	}
}

// smokeSizes run every scenario in seconds.
var smokeSizes = sizes{rounds: 1, commands: 100, commands20: 100, customers: 2000, changes: 20, bulk: 200,
	cmdRate: 200, cmdTime: 500 * time.Millisecond, queryRate: 500, queryTime: 500 * time.Millisecond, queryCustom: 500,
	lookupCust: 500, lookups: 2, exportCustomers: 10_000, exportPage: 100, exportLatency: 40 * time.Millisecond}

// scenarios are the black-box scenarios, each a function of the sizes.
var scenarios = []struct {
	name string
	run  func(tb testing.TB, s sizes) []*table
}{
	{"commands/latency=0", func(tb testing.TB, s sizes) []*table {
		return []*table{commandsScenario(tb, 0, s.commands, s.rounds, "≥ 0.8")}
	}},
	{"commands/latency=20ms", func(tb testing.TB, s sizes) []*table {
		return []*table{commandsScenario(tb, 20*time.Millisecond, s.commands20, s.rounds, "≥ 0.95")}
	}},
	{"events", func(tb testing.TB, s sizes) []*table {
		return eventsScenario(tb, s.customers, s.changes, s.rounds)
	}},
	{"latency", func(tb testing.TB, s sizes) []*table {
		return []*table{latencyScenario(tb, s.cmdRate, s.cmdTime, s.rounds)}
	}},
	{"query", func(tb testing.TB, s sizes) []*table {
		return []*table{queryScenario(tb, s.queryCustom, s.queryRate, s.queryTime, s.rounds)}
	}},
	{"lookup", func(tb testing.TB, s sizes) []*table {
		return []*table{lookupScenario(tb, s.lookupCust, s.lookups, s.rounds)}
	}},
	{"firstsync", func(tb testing.TB, s sizes) []*table { return firstSyncScenario(tb, s.customers, s.rounds) }},
	{"migrate", func(tb testing.TB, s sizes) []*table { return migrateScenario(tb, s.customers, s.rounds) }},
	{"changes/during-export", func(tb testing.TB, s sizes) []*table {
		return []*table{duringExportScenario(tb, s.exportCustomers, s.changes, s.rounds, s.exportPage, s.exportLatency)}
	}},
	{"bulk", func(tb testing.TB, s sizes) []*table { return bulkScenario(tb, s.customers, s.bulk, s.rounds) }},
}

// BenchmarkBlackBox runs each scenario once (its rounds inside) and prints
// its tables: see docs/performance.md, "Black-box". Run it with
// -benchtime 1x; select scenarios with -bench 'BlackBox/events', say.
func BenchmarkBlackBox(b *testing.B) {
	s := benchSizes(b)
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			for b.Loop() {
				for _, t := range sc.run(b, s) {
					t.report(b)
				}
			}
		})
	}
}

// TestSmoke runs every scenario at a tiny size, one round, so that the
// harness keeps working; it checks no figure.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			for _, tb := range sc.run(t, smokeSizes) {
				if testing.Verbose() {
					tb.print(os.Stdout)
				}
			}
		})
	}
}
