package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/safepipe/safepipe/verify"
)

func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("format", "text", "output format: text, json, sarif (SARIF 2.1.0, for code scanning), junit (JUnit XML, for CodeBuild report groups and CI) or markdown (a pull-request comment)")
	severity := fs.String("severity", "warning", "report and fail on findings at or above this `LEVEL`: info, warning, error")
	configPath := fs.String("config", "", "config `FILE` (JSON): stage-name patterns, floors, suppressions")
	rules := fs.Bool("rules", false, "list the rules and exit")
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "usage: safepipe verify [flags] [PATH]\n\nPATH is a cloud assembly directory (default cdk.out) or a template file.\nExit codes: 0 clean, 1 findings at or above --severity, 2 unreadable input.\n\nflags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "safepipe: verify: %s\n", verify.Escape(err.Error()))
		usage(stderr)
		return 2
	}
	if *rules {
		for _, r := range verify.Rules {
			fmt.Fprintf(stdout, "%s  %-27s %-7s %s\n       fix: %s\n", r.ID, r.Name, r.Severity, r.Rationale, r.Fix)
		}
		return 0
	}
	if fs.NArg() > 1 {
		return fail(stderr, fmt.Errorf("verify takes one PATH, got %d: %s", fs.NArg(), verify.Escape(strings.Join(fs.Args(), " "))))
	}
	path := "cdk.out"
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	threshold, err := verify.ParseSeverity(*severity)
	if err != nil {
		return fail(stderr, err)
	}
	if !slices.Contains([]string{"text", "json", "sarif", "junit", "markdown"}, *format) {
		return fail(stderr, fmt.Errorf("--format %q is unknown (want text, json, sarif, junit or markdown)", *format))
	}
	var cfg *verify.Config
	if *configPath != "" {
		f, err := openRegular(*configPath)
		if err != nil {
			return fail(stderr, err)
		}
		cfg, err = verify.ReadConfig(f)
		f.Close()
		if err != nil {
			return fail(stderr, err)
		}
	}
	rep, err := verify.Path(path, cfg)
	if err != nil {
		return fail(stderr, err)
	}
	switch *format {
	case "json":
		err = verify.WriteJSON(stdout, rep, threshold)
	case "sarif":
		// Locations are the assembly's files as PATH names them; a lone
		// template's findings name it already.
		base := ""
		if st, serr := os.Stat(path); serr == nil && st.IsDir() {
			base = path
		}
		err = verify.WriteSARIF(stdout, rep, threshold, base)
	case "junit":
		err = verify.WriteJUnit(stdout, rep, threshold)
	case "markdown":
		err = verify.WriteMarkdown(stdout, rep, threshold)
	default:
		err = verify.WriteText(stdout, rep, threshold)
	}
	if err != nil {
		return fail(stderr, err)
	}
	if rep.Failed(threshold) {
		return 1
	}
	return 0
}

// openRegular opens a config file, refusing what is not a regular file (a
// device or a pipe would be read for ever).
func openRegular(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, errors.New(verify.Escape(err.Error()))
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("config %s is not a regular file", verify.Escape(path))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.New(verify.Escape(err.Error()))
	}
	return f, nil
}
