# safepipe: the two commands are `make synth` and `make test`.
SHELL := /bin/bash
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
GO ?= go

.PHONY: synth test vet plan snapshot-update bench fuzz tools clean

# Install the pinned CDK CLI (package-lock.json) into ./node_modules.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
tools: node_modules/.package-lock.json
	$(GO) mod download

## synth: synthesize the reference example (cdk.json's app) into cdk.out.
synth: tools
	npx --no-install cdk synth --quiet

## test: go vet, then every test.
test: vet
	$(GO) test ./...
vet: tools
	$(GO) vet ./...

## plan: print the reference plan (waves, stages, bakes, timeline).
plan:
	$(GO) run ./cmd/safepipe plan

## snapshot-update: refresh golden snapshots (review the diff before committing).
snapshot-update: tools
	$(GO) test ./... -run 'Snapshot' -update

## bench: benchmarks of the core and of synth.
bench:
	$(GO) test ./waves/ -run XXX -bench . -benchmem

## fuzz: fuzz the catalog parser for a minute.
fuzz:
	$(GO) test ./waves/ -run XXX -fuzz FuzzParseCatalog -fuzztime 60s

clean:
	rm -rf cdk.out
