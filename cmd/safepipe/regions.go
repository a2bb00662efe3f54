package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

func runRegions(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("regions", flag.ContinueOnError)
	catalogPath := fs.String("catalog", "", "catalog `FILE` (JSON); default: the embedded catalog, or $SAFEPIPE_CATALOG")
	format := fs.String("format", "table", "output format: table or json")
	if code, done := parseFlags(fs, "safepipe regions [--catalog FILE] [--format table|json]", args, stdout, stderr); done {
		return code
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("regions takes no arguments, got %q", fs.Args()))
	}
	if *format != "table" && *format != "json" {
		errs = append(errs, fmt.Errorf("--format %q is unknown (want table or json)", *format))
	}
	cat, err := loadCatalog(*catalogPath)
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return fail(stderr, err)
	}
	switch *format {
	case "json":
		if err := writeJSON(stdout, cat); err != nil {
			return fail(stderr, err)
		}
	case "table":
		fmt.Fprintf(stdout, "catalog %s: %d regions\n\n", esc(cat.Version), len(cat.Regions))
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "REGION\tNAME\tTIER\tOPT-IN\tTIME ZONE\tAZ IDS")
		for _, r := range cat.Regions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\n", esc(r.Code), esc(r.Name), esc(string(r.Tier)), r.OptIn, esc(r.TimeZone), esc(strings.Join(r.AZs, ",")))
		}
		tw.Flush()
	}
	return 0
}
