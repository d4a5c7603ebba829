// Package deps pins dependencies while the packages that use them are being
// written. Temporary: removed once every dependency is imported for real.
package deps

import (
	_ "github.com/cenkalti/backoff/v4"
	_ "github.com/getkin/kin-openapi/openapi3filter"
	_ "github.com/go-playground/validator/v10"
	_ "github.com/google/btree"
	_ "github.com/lmittmann/tint"
	_ "github.com/nats-io/nats-server/v2/server"
	_ "github.com/nats-io/nats.go/jetstream"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "go.uber.org/goleak"
	_ "golang.org/x/term"
)
