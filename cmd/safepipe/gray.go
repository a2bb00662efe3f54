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

const grayUsage = "safepipe gray check [--format text|json] FILE..."

func runGray(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		fmt.Fprintln(stderr, "safepipe: usage: "+grayUsage)
		return 2
	case args[0] == "-h" || args[0] == "--help" || args[0] == "help":
		fmt.Fprintf(stdout, "usage: %s\n\nCheck gray-release rules (YAML or JSON). One service's rule file: shadowed rules,\nambiguous overlaps, one variant per rule, split order, effective shares. Release files\n(releases over a call chain; several teams' files are checked together): the same, plus\none canary version per release, shared downstream canaries, and overlapping releases\nwith what every service serves them. Exit 1 on an error finding.\nRun \"safepipe gray check -h\" for its flags.\n", grayUsage)
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
	if fs.NArg() == 0 {
		return fail(stderr, errors.New("gray check takes one rule FILE, or release FILEs (YAML or JSON)"))
	}
	if *format != "text" && *format != "json" {
		return fail(stderr, fmt.Errorf("--format %q is not text or json", *format))
	}
	var rules []*gray.RuleSet
	var chains []*gray.ReleaseSet
	var errs []error
	for _, name := range fs.Args() {
		rs, chain, err := loadGray(name, fs.NArg() > 1)
		switch {
		case err != nil:
			errs = append(errs, err)
		case rs != nil:
			rules = append(rules, rs)
		default:
			chains = append(chains, chain)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fail(stderr, err)
	}
	if len(rules) > 0 && fs.NArg() > 1 {
		return fail(stderr, errors.New("gray check takes one rule file at a time (a service's rules stand alone); several files must all be release files, checked together"))
	}
	if len(rules) == 1 {
		a, err := gray.Analyze(rules[0])
		if err != nil {
			return fail(stderr, err)
		}
		return report(stdout, stderr, *format, a, func() {
			fmt.Fprintf(stdout, "\nsafepipe gray check: %s, %s, %s; unmatched traffic goes to %q\n", plural(len(rules[0].Rules), "rule"), plural(len(a.Findings), "finding"), plural(errorCount(a), "error"), esc(stableOf(rules[0])))
		}, func(s gray.Share) string { return s.Target }, "RULE", "TARGET")
	}
	all, err := gray.Merge(chains...)
	if err != nil {
		return fail(stderr, err)
	}
	a, err := gray.AnalyzeReleases(all)
	if err != nil {
		return fail(stderr, err)
	}
	sources := map[string]string{}
	for _, r := range all.Releases {
		sources[r.Name] = r.Source
	}
	return report(stdout, stderr, *format, a, func() {
		svcs := all.Services()
		fmt.Fprintf(stdout, "\nsafepipe gray check: %s over %s (%s), %s, %s; outside a release every service serves its stable version\n",
			plural(len(all.Releases), "release"), plural(len(svcs), "service"), esc(strings.Join(svcs, ", ")), plural(len(a.Findings), "finding"), plural(errorCount(a), "error"))
	}, func(s gray.Share) string { return sources[s.Rule] }, "RELEASE", "FILE")
}

// loadGray reads one gray file: a rule set or releases. With several
// files, every line of an error names its file.
func loadGray(name string, several bool) (*gray.RuleSet, *gray.ReleaseSet, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	rs, chain, err := gray.LoadFile(f, name)
	if err != nil && several {
		lines := strings.Split(err.Error(), "\n")
		for i, l := range lines {
			lines[i] = name + ": " + l
		}
		return nil, nil, errors.New(strings.Join(lines, "\n"))
	}
	return rs, chain, err
}

// report prints an analysis (findings, then one row per rule or release,
// named in the column headed what; column gives the third column, headed
// header) and returns the exit code.
func report(stdout, stderr io.Writer, format string, a *gray.Analysis, summary func(), column func(gray.Share) string, what, header string) int {
	if format == "json" {
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
		fmt.Fprintf(tw, "PRIORITY\t%s\t%s\tREACHABLE\tNOMINAL\tEFFECTIVE\tSTICKY\n", what, header)
		for _, s := range a.Shares {
			nominal, effective := "-", "-"
			if s.Percent {
				nominal, effective = share(s.Nominal), share(s.Effective)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%v\t%s\t%s\t%v\n", s.Priority, esc(s.Rule), esc(column(s)), s.Reachable, nominal, effective, s.Sticky)
		}
		tw.Flush()
		summary()
	}
	if a.HasErrors() {
		return 1
	}
	return 0
}

func errorCount(a *gray.Analysis) int {
	n := 0
	for _, f := range a.Findings {
		if f.Severity == gray.SeverityError {
			n++
		}
	}
	return n
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
