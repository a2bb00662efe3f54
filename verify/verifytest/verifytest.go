// Package verifytest lets a team's Go tests assert that a synthesized
// cloud assembly passes safepipe verify, next to their snapshot tests.
//
//	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir)})
//	… build the pipeline …
//	app.Synth(nil)
//	verifytest.Clean(t, dir, nil)
package verifytest

import (
	"strings"
	"testing"

	"github.com/safepipe/safepipe/verify"
)

// Clean fails t with every unsuppressed finding at warning or above in
// the assembly (or template) at path; unreadable input fails it too. It
// returns the report for further checks.
func Clean(t testing.TB, path string, cfg *verify.Config) *verify.Report {
	t.Helper()
	return AtLeast(t, path, cfg, verify.Warning)
}

// AtLeast is Clean with a severity threshold.
func AtLeast(t testing.TB, path string, cfg *verify.Config, threshold verify.Severity) *verify.Report {
	t.Helper()
	rep, err := verify.Path(path, cfg)
	if err != nil {
		t.Fatalf("safepipe verify: %v", err)
		return nil
	}
	if rep.Failed(threshold) {
		var b strings.Builder
		_ = verify.WriteText(&b, rep, threshold)
		t.Errorf("safepipe verify found problems in %s:\n%s", path, b.String())
	}
	return rep
}
