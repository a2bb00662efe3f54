package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
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
		fmt.Fprintf(stdout, "catalog %s: %d regions\n", esc(cat.Version), len(cat.Regions))
		// The services some region offers and this one does not: what
		// the catalog tracks, minus what the region lists.
		var tracked []string
		for _, r := range cat.Regions {
			tracked = append(tracked, r.Services...)
		}
		slices.Sort(tracked)
		tracked = slices.Compact(tracked)
		if cat.ServicesSource != "" {
			fmt.Fprintf(stdout, "services (%d tracked) from %s\n", len(tracked), esc(cat.ServicesSource))
		} else {
			fmt.Fprintln(stdout, "services: none listed (a policy that requires a service finds no region offering it)")
		}
		fmt.Fprintln(stdout)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "REGION\tNAME\tTIER\tOPT-IN\tTIME ZONE\tAZ IDS\tLACKS")
		for _, r := range cat.Regions {
			lacks := "-"
			if l := r.Lacks(tracked); len(l) > 0 {
				lacks = strings.Join(l, ",")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\t%s\n", esc(r.Code), esc(r.Name), esc(string(r.Tier)), r.OptIn, esc(r.TimeZone), esc(strings.Join(r.AZs, ",")), esc(lacks))
		}
		tw.Flush()
	}
	return 0
}
