# safepipe: the two commands are `make synth` and `make test`.
SHELL := /bin/bash
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# Node 20 is past its end of life: jsii's banner for that has its own switch,
# the list of major versions to keep quiet about (jsii-runtime's checkNode).
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
GO ?= go

.PHONY: synth test vet verify plan init-check snapshot-update bench bench-synth fuzz tools clean

# Install the pinned CDK CLI (package-lock.json) into ./node_modules.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund
tools: node_modules/.package-lock.json
	$(GO) mod download

## synth: synthesize the reference example (cdk.json's app) into cdk.out.
synth: tools
	npx --no-install cdk synth --quiet

## test: go vet and gofmt, every test (and gray/propagate/otelcompat's, the newest OpenTelemetry), then safepipe verify on the reference example.
test: vet
	$(GO) test ./...
	cd gray/propagate/otelcompat && $(GO) vet ./... && $(GO) test ./...
	$(MAKE) verify

## verify: synthesize the reference example and check it with safepipe verify.
verify: synth
	$(GO) run ./cmd/safepipe verify cdk.out
vet: tools
	$(GO) vet ./...
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt: not formatted: $$unformatted" >&2; exit 1; fi

## init-check: write a team repository with safepipe init and run its go vet, go test and cdk synth.
init-check:
	bash .ci/init-check

## plan: print the default zonal plan (waves, stages, bakes, timeline); safepipe plan --from cdk.out prints the synthesized one's.
plan:
	$(GO) run ./cmd/safepipe plan

## snapshot-update: refresh golden snapshots (review the diff before committing).
snapshot-update: tools
	$(GO) test ./... -run 'Snapshot' -update

## bench: benchmarks of the core (synth benchmarks: go test ./examples/orders -bench Synth).
bench:
	$(GO) test ./waves/ ./gates/ ./verify/ ./gray/ ./sim/ -run XXX -bench . -benchmem

## bench-synth: build examples/orders, an empty CDK Go app and the synth floor of
## the reference's assembly (../shared/bench-floor), synthesize
## each BENCH_N times (default 5) interleaved, one process at a time, and
## print each app's median wall time, CPU (user+sys) and peak RSS, then the
## ratios orders/empty and orders/floor: lines "app wall_s cpu_s rss_mb",
## "empty ...", "orders ...", "floor ...", "ratio ...", "/floor ...", with
## template validation on (BENCH_FLAGS="-validation both" adds a table with it
## off; -floor none leaves the floor out; BENCH_N=9 BENCH_FLAGS=-v).
## BENCH_FLAGS=-phases adds the medians of CDK's own performance counters,
## phase by phase (where each app's synth spends its time).
## BENCH_FLAGS="-scale 1,2,4" also synthesizes the reference over the default
## catalog with every region twice and four times (orders-x2, orders-x4),
## each beside the floor of its own assembly (floor-x2, floor-x4), and adds
## a scaling table: CPU per scale, /floor, and growth against 1x.
BENCH_N ?= 5
bench-synth:
	$(GO) run ./internal/benchsynth -n $(BENCH_N) $(BENCH_FLAGS)

## fuzz: run every fuzz target, one at a time, for FUZZTIME each with
## FUZZPARALLEL workers (make fuzz FUZZTIME=10m). Findings land in the
## package's testdata/fuzz/<target>/ and fail the run. New inputs are
## minimized for at most FUZZMINIMIZETIME (the default, 60s, stalls the
## workers for long stretches).
FUZZTIME ?= 30s
FUZZPARALLEL ?= 1
FUZZMINIMIZETIME ?= 10s
FUZZ = $(GO) test -run XXX -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) -parallel $(FUZZPARALLEL)
fuzz:
	$(FUZZ) ./waves/ -fuzz '^FuzzParseCatalog$$'
	$(FUZZ) ./waves/ -fuzz '^FuzzParsePolicy$$'
	$(FUZZ) ./waves/ -fuzz '^FuzzWindow$$'
	$(FUZZ) ./gray/ -fuzz '^FuzzLoad$$'
	$(FUZZ) ./gray/ -fuzz '^FuzzAnalyze$$'
	$(FUZZ) ./gray/ -fuzz '^FuzzLoadFile$$'
	$(FUZZ) ./gray/ -fuzz '^FuzzVariants$$'
	$(FUZZ) ./gray/propagate/ -fuzz '^FuzzEdge$$'
	$(FUZZ) ./gates/ -fuzz '^FuzzParse$$'
	$(FUZZ) ./gates/ -fuzz '^FuzzParseLedger$$'
	$(FUZZ) ./gates/ -fuzz '^FuzzParseBakeRequest$$'
	$(FUZZ) ./internal/strict/ -fuzz '^FuzzJSON$$'
	$(FUZZ) ./internal/strict/ -fuzz '^FuzzYAML$$'
	$(FUZZ) ./internal/termsafe/ -fuzz '^FuzzEscape$$'
	$(FUZZ) ./verify/ -fuzz '^FuzzParseTemplate$$'
	$(FUZZ) ./verify/ -fuzz '^FuzzReadAssembly$$'
	$(FUZZ) ./model/ -fuzz '^FuzzFlatten$$'
	$(FUZZ) ./verify/ -fuzz '^FuzzReadConfig$$'
	$(FUZZ) ./model/ -fuzz '^FuzzDecodeJSON$$'
	$(FUZZ) ./model/ -fuzz '^FuzzParseWindow$$'
	$(FUZZ) ./verify/ -fuzz '^FuzzGateConfig$$'
	$(FUZZ) ./sim/ -fuzz '^FuzzReadTemplate$$'
	$(FUZZ) ./sim/ -fuzz '^FuzzParseFault$$'
	$(FUZZ) ./sim/ -fuzz '^FuzzParseAlarmRule$$'
	$(FUZZ) ./model/ -fuzz '^FuzzCron$$'
	$(FUZZ) ./sim/ -fuzz '^FuzzParseActionEnv$$'
	$(FUZZ) ./constructs/pipeline/ -fuzz '^FuzzShellWords$$'
	$(FUZZ) ./model/ -fuzz '^FuzzReadRamp$$'
	$(FUZZ) ./gray/ -fuzz '^FuzzParseVersion$$'

clean:
	rm -rf cdk.out
