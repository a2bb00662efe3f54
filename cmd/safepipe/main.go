// Command safepipe plans, checks and explains safe deployment pipelines.
//
//	safepipe plan     [--catalog FILE] [--policy amazon|doubling|FILE] [--shape zonal|regional]
//	                  [--start TIME] [--deploy-minutes N] [--format table|json] [--from PATH]
//	safepipe regions  [--catalog FILE] [--format table|json]
//	safepipe verify   [--format text|json|sarif|junit|markdown] [--severity info|warning|error] [--config FILE] [PATH]
//	safepipe gray check [--format text|json] FILE...
//	safepipe simulate [--start TIME] [--deploy-minutes N] [--fault SPEC]... [--unprepared REGION]...
//	                  [--reading NAME=VALUE]... [--all-readings] [--structure-changed] [--override STAGE]...
//	                  [--format text|json|html|junit|markdown] [--out FILE] PATH
//	safepipe init     [--team NAME] [--module PATH] [--repo OWNER/NAME] [--time-zone TZ] …
//	                  [--safepipe-version V | --safepipe-path DIR] DIR
//
// Exit codes: 0 success, 1 a finding or a failed check, 2 bad input (one
// line on stderr per problem); simulate also exits 3 when the change was
// stopped and rolled back as designed. "-h" or "--help" on any command prints its
// usage to stdout.
//
// The files the commands read (catalog, policy, rule file) are limited in
// size and strictly decoded; see the waves and gray package documentation
// for every limit. User text in the output is escaped (internal/termsafe).
package main

import (
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `safepipe: safe, hands-off deployment pipelines

usage:
  safepipe plan     plan waves, stages, bakes and the rollout timeline
  safepipe regions  list the region catalog
  safepipe verify   check a synthesized pipeline (cdk.out) against the safety rules
  safepipe gray     check gray-release rules (shadowed rules, overlaps, effective shares)
  safepipe simulate run a synthesized pipeline (cdk.out) against faults and check its safety
  safepipe init     write a team repository: an organisation base, a service, its pipeline and tests

Run "safepipe COMMAND -h" for a command's flags.
`

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, `safepipe: missing command: plan, regions, verify, gray, simulate or init (see safepipe --help)`)
		return 2
	}
	switch args[0] {
	case "plan":
		return runPlan(args[1:], stdout, stderr)
	case "regions":
		return runRegions(args[1:], stdout, stderr)
	case "verify":
		return runVerify(args[1:], stdout, stderr)
	case "gray":
		return runGray(args[1:], stdout, stderr)
	case "simulate":
		return runSimulate(args[1:], stdout, stderr)
	case "init":
		return runInit(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "safepipe: unknown command %q (see safepipe --help)\n", args[0])
	return 2
}
