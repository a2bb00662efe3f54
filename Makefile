# safepipe: the two commands are `make synth` and `make test`.
SHELL := /bin/bash
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
GO ?= go

.PHONY: synth test vet verify plan snapshot-update bench fuzz tools clean

# Install the pinned CDK CLI (package-lock.json) into ./node_modules.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
tools: node_modules/.package-lock.json
	$(GO) mod download

## synth: synthesize the reference example (cdk.json's app) into cdk.out.
synth: tools
	npx --no-install cdk synth --quiet

## test: go vet, every test, then safepipe verify on the reference example.
test: vet
	$(GO) test ./...
	$(MAKE) verify

## verify: synthesize the reference example and check it with safepipe verify.
verify: synth
	$(GO) run ./cmd/safepipe verify cdk.out
vet: tools
	$(GO) vet ./...

## plan: print the reference plan (waves, stages, bakes, timeline).
plan:
	$(GO) run ./cmd/safepipe plan

## snapshot-update: refresh golden snapshots (review the diff before committing).
snapshot-update: tools
	$(GO) test ./... -run 'Snapshot' -update

## bench: benchmarks of the core (synth benchmarks: go test ./examples/orders -bench Synth).
bench:
	$(GO) test ./waves/ ./verify/ ./gray/ -run XXX -bench . -benchmem

## fuzz: fuzz the catalog parser and each verify parser for a minute each (FUZZTIME=10m for longer).
FUZZTIME ?= 60s
fuzz:
	$(GO) test ./waves/ -run XXX -fuzz FuzzParseCatalog -fuzztime 60s
	for t in FuzzParseTemplate FuzzReadAssembly FuzzFlatten FuzzReadConfig FuzzDecodeJSON FuzzParseWindow FuzzGateConfig; do \
		$(GO) test ./verify/ -run XXX -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 10s -parallel 1 || exit 1; \
	done

clean:
	rm -rf cdk.out
