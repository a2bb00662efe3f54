package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/safepipe/safepipe/gray"
)

const grayUsage = "safepipe gray check [--format text|json] FILE"

func runGray(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		fmt.Fprintln(stderr, "safepipe: usage: "+grayUsage)
		return 2
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
		fmt.Fprintf(stdout, "usage: %s\n\nCheck gray-release rules (YAML or JSON): shadowed rules, ambiguous overlaps,\none variant per rule, split order, effective shares. Exit 1 on an error finding.\nRun \"safepipe gray check -h\" for its flags.\n", grayUsage)
		return 0
	case args[0] != "check":
		fmt.Fprintf(stderr, "safepipe: unknown gray command %q (see safepipe gray --help)\n", esc(args[0]))
		return 2
	}
	fs := flag.NewFlagSet("gray check", flag.ContinueOnError)
	format := fs.String("format", "text", "output format: text or json")
	if code, done := parseFlags(fs, grayUsage, args[1:], stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		return fail(stderr, errors.New("gray check takes one rule FILE (YAML or JSON)"))
	}
	if *format != "text" && *format != "json" {
		return fail(stderr, fmt.Errorf("--format %q is not text or json", *format))
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fail(stderr, err)
	}
	defer f.Close()
	rs, err := gray.Load(f)
	if err != nil {
		return fail(stderr, err)
	}
	a, err := gray.Analyze(rs)
	if err != nil {
		return fail(stderr, err)
	}
	if *format == "json" {
		if err := writeJSON(stdout, a); err != nil {
			return fail(stderr, err)
		}
	} else {
		for _, f := range a.Findings {
			others := ""
			if len(f.Others) > 0 {
				others = " (" + strings.Join(f.Others, ", ") + ")"
			}
			fmt.Fprintf(stdout, "%-7s %-20s %s%s: %s\n", f.Severity, f.Kind, esc(f.Rule), esc(others), esc(f.Message))
		}
		if len(a.Findings) > 0 {
			fmt.Fprintln(stdout)
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PRIORITY\tRULE\tTARGET\tREACHABLE\tNOMINAL\tEFFECTIVE\tSTICKY")
		for _, s := range a.Shares {
			nominal, effective := "-", "-"
			if s.Percent {
				nominal, effective = share(s.Nominal), share(s.Effective)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%s\t%s\t%v\n", s.Priority, esc(s.Rule), esc(s.Target), s.Reachable, nominal, effective, s.Sticky)
		}
		tw.Flush()
		errs := 0
		for _, f := range a.Findings {
			if f.Severity == gray.SeverityError {
				errs++
			}
		}
		fmt.Fprintf(stdout, "\nsafepipe gray check: %d rules, %d findings, %d errors; unmatched traffic goes to %q\n", len(rs.Rules), len(a.Findings), errs, esc(stableOf(rs)))
	}
	if a.HasErrors() {
		return 1
	}
	return 0
}

func share(f float64) string {
	s := fmt.Sprintf("%.3f", f*100)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s + "%"
}

func stableOf(rs *gray.RuleSet) string {
	if rs.Stable == "" {
		return gray.DefaultStable
	}
	return rs.Stable
}
