package agreement

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/safepipe/safepipe/sim"
	"github.com/safepipe/safepipe/verify"
)

// corpus lists every pipeline input the repository holds: the public
// pipelines of verify's real corpus, verify's and the simulator's
// fixtures, and the reference example's pipeline template.
func corpus(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, pattern := range []string{
		"../../verify/testdata/real/*",
		"../../verify/testdata/pass/*.template.json",
		"../../verify/testdata/fail/*.template.json",
		"../../verify/testdata/assembly-*",
		"../../sim/testdata/*",
		"../../examples/orders/testdata/pipeline.template.golden",
	} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range m {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			switch base := filepath.Base(p); {
			case st.IsDir() && base != "fuzz" && base != "LICENSES":
				out = append(out, p)
			case !st.IsDir() && (strings.HasSuffix(p, ".template.json") || strings.HasSuffix(p, ".template.golden")):
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// containment are the verify rules whose absence claims that a bad change
// in production is held where it is.
var containment = []string{"SP001", "SP002", "SP003", "SP004", "SP006", "SP012", "SP013", "SP019"}

// latency is how long a latent bad change serves before its alarm
// fires: below every bake floor (waves.FloorZonal, 30 min), so a pipeline
// verify passes must hold it in the first production stage.
const latency = "25m"

var start = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// TestVerifyAndSimulateAgree runs verify and the simulator on every
// pipeline of the corpus and fails where they disagree:
//
//   - one reads a pipeline the other refuses;
//   - they see different production stages (both use model.Roles; the
//     targets each reads must agree too);
//   - a bad change from the first production stage on (bad:S, and latent:
//     bad:S+25m) gets past it in the simulator under some reading, while
//     verify reports no containment error (SP001–SP004, SP006, SP012,
//     SP013, SP019) on the pipeline: verify passed what is unsafe;
//   - verify says the first production stage cannot hold a latent bad
//     change there (it does not roll back, SP001; has no bake at all,
//     SP002; its bake misses a region, SP004; the pipeline is V1, SP019),
//     the change reaches that stage in the simulator, and no reading
//     shows it get past: the simulator called safe what verify shows is
//     not.
func TestVerifyAndSimulateAgree(t *testing.T) {
	exercised := 0
	for _, path := range corpus(t) {
		name := strings.TrimPrefix(path, "../../")
		t.Run(name, func(t *testing.T) {
			rep, verr := verify.Path(path, nil)
			var m *sim.Model
			asm, serr := sim.Load(path, sim.Limits{})
			if serr == nil {
				m, serr = sim.NewModel(asm)
			}
			if verr == nil && rep.Pipelines == 0 {
				if serr == nil {
					t.Fatalf("verify reads no pipeline, the simulator reads %s", m.Pipeline.Name)
				}
				return // a stack template: nothing to simulate
			}
			if (verr == nil) != (serr == nil) {
				t.Fatalf("one tool refuses what the other reads: verify %v; simulate %v", verr, serr)
			}
			if verr != nil {
				return
			}
			var vprod, sprod []string
			for _, s := range rep.Stages {
				if s.Production {
					vprod = append(vprod, s.Stage)
				}
			}
			for _, st := range m.Pipeline.Stages {
				if st.Production {
					sprod = append(sprod, st.Name)
				}
			}
			if !slices.Equal(vprod, sprod) {
				t.Fatalf("production stages differ: verify %v, simulate %v", vprod, sprod)
			}
			if len(sprod) == 0 {
				return
			}
			first := sprod[0]
			var gates, atFirst []string
			for _, f := range rep.Findings {
				if f.Suppressed || f.Severity != verify.Error || !slices.Contains(containment, f.Rule) {
					continue
				}
				gates = append(gates, f.Rule+"@"+f.Stage)
				switch {
				case f.Rule == "SP019",
					f.Stage == first && (f.Rule == "SP001" || f.Rule == "SP004"),
					f.Stage == first && f.Rule == "SP002" && strings.HasPrefix(f.Message, "stage "+first+" has no bake "):
					atFirst = append(atFirst, f.Rule)
				}
			}
			for _, spec := range []string{"bad:" + first, "bad:" + first + "+" + latency} {
				fault, err := sim.ParseFault(spec)
				if err != nil {
					t.Fatal(err)
				}
				opts := sim.Options{Start: start, Faults: []sim.Fault{fault}}
				all, err := sim.RunReadings(m, opts, nil)
				if err != nil {
					t.Fatal(err)
				}
				var escapes []string
				for _, r := range all.Readings {
					for _, v := range r.Violations {
						if v.Property == sim.PropContainment {
							escapes = append(escapes, v.Stage+" "+v.Region+": "+v.Detail)
						}
					}
				}
				if len(escapes) > 0 && len(gates) == 0 {
					t.Errorf("%s: the simulator shows the change get past %s (%s), and verify reports no containment error", spec, first, escapes[0])
				}
				if !strings.HasSuffix(spec, latency) {
					continue
				}
				res, err := sim.Run(m, opts)
				if err != nil {
					t.Fatal(err)
				}
				reached := slices.ContainsFunc(res.Stages, func(s sim.StageResult) bool { return s.Name == first && s.Start != "" })
				if !reached {
					continue // held before production (a refused gate): nothing to compare
				}
				exercised++
				if len(atFirst) > 0 && len(escapes) == 0 {
					t.Errorf("%s: verify says %s cannot hold a latent bad change (%v), but no reading of the simulator shows it get past", spec, first, atFirst)
				}
			}
		})
	}
	if exercised < 20 {
		t.Errorf("only %d pipelines took the change into production: the comparison is nearly vacuous", exercised)
	}
	t.Logf("%d pipelines took a latent bad change into production", exercised)
}
