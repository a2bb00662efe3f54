// Package otelcompat runs package propagate's contract (its
// internal/chaintest suite) against the newest OpenTelemetry Go and
// otelhttp the module proxy serves, with otelhttp itself wrapped around
// every service, inside and outside the edge. It is a module of its own
// (go.mod), so that the main module keeps the OpenTelemetry version it
// requires; `make test` runs both. Its go.mod names the versions tested.
package otelcompat
