// Package simtest lets a team's Go tests rehearse a synthesized pipeline
// with safepipe's simulator, next to verifytest: the happy path reaches
// every production region, and a bad change in any step of the first wave
// (the one-box, then each AZ or region step) is stopped and rolled back,
// with no property failing under any reading of what the AWS
// documentation leaves open.
//
//	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(dir)})
//	… build the pipeline …
//	app.Synth(nil)
//	verifytest.Clean(t, dir, nil)
//	simtest.Safe(t, dir, nil)
//
// verify reads what the templates say; the simulator runs them (stage
// conditions, rollbacks, deployment groups, the gate controller's own
// decisions) and catches what no single rule sees: a one-box step that
// moves a whole region, a step that changes nothing, a fault that
// outlives a bake. A team whose CI runs only one of the two ships what the
// other would have stopped.
package simtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/safepipe/safepipe/sim"
)

// Options configure the rehearsal.
type Options struct {
	// Start is when the change starts. Default: Monday 2026-01-05 09:00 in
	// the pipeline's window's time zone (inside any common window).
	Start time.Time
	// Latency is how long the latent bad change serves before its alarm
	// fires. Default: 25 minutes, under every bake floor, so that the
	// first production stage's bake must hold it.
	Latency time.Duration
	// OneReading runs the default reading of each question only.
	// Default: false (every reading, sim.RunReadings).
	OneReading bool
}

// Load reads the cloud assembly (or template) at path for the simulator;
// unreadable input fails t.
func Load(t testing.TB, path string) *sim.Model {
	t.Helper()
	a, err := sim.Load(path, sim.Limits{})
	if err != nil {
		t.Fatalf("safepipe simulate: %v", err)
		return nil
	}
	m, err := sim.NewModel(a)
	if err != nil {
		t.Fatalf("safepipe simulate: %v", err)
		return nil
	}
	return m
}

// Safe runs Happy and FirstWaveFaults on the assembly at path.
func Safe(t testing.TB, path string, o *Options) {
	t.Helper()
	m := Load(t, path)
	if m == nil {
		return
	}
	Happy(t, m, o)
	FirstWaveFaults(t, m, o)
}

// Happy fails t unless, with no fault, the change reaches every
// production region (exit 0) under the default readings, and no property
// fails under any reading. (Under some readings a safe pipeline stops a
// change without a fault — a rule that times out while the window is
// closed refuses the stage — which is safe, and reported by simulate.)
func Happy(t testing.TB, m *sim.Model, o *Options) {
	t.Helper()
	one := Options{OneReading: true}
	if o != nil {
		one.Start = o.Start
	}
	for _, r := range runs(t, m, &one, nil) {
		if r.ExitCode != sim.ExitReached {
			t.Errorf("safepipe simulate, no fault, default readings: %s%s", r.Summary, violations(r.Violations))
		}
	}
	if o != nil && o.OneReading {
		return
	}
	for _, r := range runs(t, m, o, nil) {
		if len(r.Violations) > 0 {
			t.Errorf("safepipe simulate, no fault, %s: %s%s", reading(r), r.Summary, violations(r.Violations))
		}
	}
}

// FirstWaveFaults fails t unless a change bad from any production stage
// of the first wave on — at once (bad:STAGE) and latent
// (bad:STAGE+Latency) — is stopped and rolled back (exit 3) with no
// property failing, under every reading: the one-box first, and each later
// step of the wave (an AZ whose failure must take the region back). A
// pipeline with no production stage fails it.
func FirstWaveFaults(t testing.TB, m *sim.Model, o *Options) {
	t.Helper()
	var stages []string
	wave := 0
	for _, st := range m.Pipeline.Stages {
		if !st.Production {
			continue
		}
		if wave == 0 {
			wave = st.Wave
		}
		if st.Wave == wave {
			stages = append(stages, st.Name)
		}
	}
	if len(stages) == 0 {
		t.Errorf("safepipe simulate: no stage reads as production, so no fault in production can be rehearsed (name production stages, or see simulate --production)")
		return
	}
	latency := 25 * time.Minute
	if o != nil && o.Latency > 0 {
		latency = o.Latency
	}
	for _, stage := range stages {
		for _, spec := range []string{"bad:" + stage, fmt.Sprintf("bad:%s+%dm", stage, int(latency/time.Minute))} {
			f, err := sim.ParseFault(spec)
			if err != nil {
				t.Fatalf("safepipe simulate: %v", err)
				return
			}
			for _, r := range runs(t, m, o, []sim.Fault{f}) {
				if r.ExitCode != sim.ExitStopped || len(r.Violations) > 0 {
					t.Errorf("safepipe simulate --fault %s, %s: %s%s", spec, reading(r), r.Summary, violations(r.Violations))
				}
			}
		}
	}
}

// runs runs the model under every reading (or the default one).
func runs(t testing.TB, m *sim.Model, o *Options, faults []sim.Fault) []sim.ReadingRun {
	t.Helper()
	var opts sim.Options
	one := false
	if o != nil {
		opts.Start, one = o.Start, o.OneReading
	}
	if opts.Start.IsZero() {
		opts.Start = time.Date(2026, 1, 5, 9, 0, 0, 0, m.Location())
	}
	opts.Faults = faults
	if one {
		res, err := sim.Run(m, opts)
		if err != nil {
			t.Fatalf("safepipe simulate: %v", err)
			return nil
		}
		return []sim.ReadingRun{{Outcome: res.Outcome, ExitCode: res.ExitCode, Summary: res.Summary, Violations: res.Violations}}
	}
	all, err := sim.RunReadings(m, opts, nil)
	if err != nil {
		t.Fatalf("safepipe simulate: %v", err)
		return nil
	}
	return all.Readings
}

func reading(r sim.ReadingRun) string {
	if len(r.Reading) == 0 {
		return "default readings"
	}
	var parts []string
	for _, q := range sim.Questions {
		if v, ok := r.Reading[q.Name]; ok {
			parts = append(parts, q.Name+"="+string(v))
		}
	}
	return strings.Join(parts, " ")
}

func violations(vs []sim.Violation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "\n  %s · %s · %s: %s", v.Property, v.Stage, v.Region, v.Detail)
	}
	return b.String()
}
