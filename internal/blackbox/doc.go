// Package blackbox holds the black-box benchmarks (docs/performance.md,
// "Black-box"): each part runs as the process users run, built from this
// module. nats-server (built from the module's own dependency), the CRM
// simulator (`bridge crmsim`), the bridge (`bridge run`) and a floor
// (./floor: the least each job needs) are child processes of the
// benchmark, which alternates bridge and floor within one run and reports
// medians of BENCH_ROUNDS rounds: throughput, each process's own CPU time
// per command or event (/proc/<pid>/stat, utime+stime) and peak RSS
// (/proc/<pid>/status, VmHWM).
//
// `make bench` runs BenchmarkBlackBox; TestSmoke runs every scenario once
// at a tiny size in `make test` and checks no figure. The package has no
// code of its own outside its tests and the floor.
package blackbox
