package sim

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// MaxMatrix is the most runs the cross product of the readings may have;
// above it, RunReadings runs each question's readings one at a time.
const MaxMatrix = 32

// Matrix modes.
const (
	MatrixCross = "cross product"
	MatrixEach  = "one question at a time"
)

// Matrix returns the option sets that run every reading: base with every
// combination of the readings of the questions not in pinned (the cross
// product), or, when that is more than MaxMatrix runs, base with each
// reading of each such question alone (the others at base's readings).
// mode says which.
func Matrix(base Options, pinned map[string]bool) (runs []Options, mode string) {
	var free []Question
	for _, q := range Questions {
		if !pinned[q.Name] {
			free = append(free, q)
		}
	}
	size := 1
	for _, q := range free {
		size *= len(q.Readings)
	}
	if size <= MaxMatrix {
		runs = []Options{base}
		for _, q := range free {
			var next []Options
			for _, o := range runs {
				for _, rd := range q.Readings {
					o2 := o
					_ = o2.SetReading(q.Name, string(rd))
					next = append(next, o2)
				}
			}
			runs = next
		}
		return runs, MatrixCross
	}
	runs = []Options{base}
	seen := map[string]bool{readingsKey(base): true}
	for _, q := range free {
		for _, rd := range q.Readings {
			o := base
			_ = o.SetReading(q.Name, string(rd))
			if k := readingsKey(o); !seen[k] {
				seen[k] = true
				runs = append(runs, o)
			}
		}
	}
	return runs, MatrixEach
}

func readingsKey(o Options) string {
	rs := o.Readings()
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(rs)) {
		fmt.Fprintf(&b, "%s=%s;", k, rs[k])
	}
	return b.String()
}

// ReadingRun is one run of RunReadings.
type ReadingRun struct {
	// Reading is the reading of every question in the run.
	Reading    map[string]Reading `json:"reading"`
	Outcome    string             `json:"outcome"`
	ExitCode   int                `json:"exitCode"`
	Summary    string             `json:"summary"`
	Violations []Violation        `json:"violations"`
}

// ReadingsResult is the outcome of running every reading.
type ReadingsResult struct {
	// Mode is MatrixCross or MatrixEach.
	Mode string `json:"mode"`
	// Outcome and ExitCode are the worst of the runs: violated, then
	// stopped, then reached.
	Outcome  string `json:"outcome"`
	ExitCode int    `json:"exitCode"`
	// Readings are the runs, in Matrix's order.
	Readings []ReadingRun `json:"readings"`
	// Worst is the whole result of the first run with the worst outcome.
	Worst *Result `json:"worst"`
}

// severity orders exit codes from best to worst.
func severity(code int) int {
	switch code {
	case ExitReached:
		return 0
	case ExitStopped:
		return 1
	}
	return 2
}

// RunReadings runs m under every reading (Matrix) of base, pinned
// questions kept at base's reading.
func RunReadings(m *Model, base Options, pinned map[string]bool) (*ReadingsResult, error) {
	runs, mode := Matrix(base, pinned)
	out := &ReadingsResult{Mode: mode, Readings: []ReadingRun{}}
	for _, o := range runs {
		res, err := Run(m, o)
		if err != nil {
			return nil, err
		}
		out.Readings = append(out.Readings, ReadingRun{Reading: o.Readings(), Outcome: res.Outcome, ExitCode: res.ExitCode, Summary: res.Summary, Violations: res.Violations})
		if out.Worst == nil || severity(res.ExitCode) > severity(out.Worst.ExitCode) {
			out.Worst = res
		}
	}
	out.Outcome, out.ExitCode = out.Worst.Outcome, out.Worst.ExitCode
	return out, nil
}

// WriteJSON writes the runs as indented JSON, strings escaped for a
// terminal (termsafe.JSON).
func (r *ReadingsResult) WriteJSON(w io.Writer) error { return writeJSON(w, r) }

// WriteText writes one line per run and the violations of each, then the
// worst run in full.
func (r *ReadingsResult) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (exit %d) under the worst of %d readings (%s)\n\n", strings.ToUpper(r.Outcome), r.ExitCode, len(r.Readings), r.Mode)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	var header []string
	for _, q := range Questions {
		header = append(header, strings.ToUpper(q.Name))
	}
	fmt.Fprintf(tw, "  %s\tOUTCOME\tVIOLATIONS\n", strings.Join(header, "\t"))
	for _, run := range r.Readings {
		var cells []string
		for _, q := range Questions {
			cells = append(cells, string(run.Reading[q.Name]))
		}
		var props []string
		for _, v := range run.Violations {
			if !slices.Contains(props, v.Property) {
				props = append(props, v.Property)
			}
		}
		fmt.Fprintf(tw, "  %s\t%s (%d)\t%s\n", strings.Join(cells, "\t"), run.Outcome, run.ExitCode, strings.Join(props, " "))
	}
	tw.Flush()
	b.WriteString("\nTHE WORST RUN\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	return r.Worst.WriteText(w)
}
