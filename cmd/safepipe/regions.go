package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

func runRegions(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("regions", flag.ContinueOnError)
	fs.SetOutput(stderr)
	catalogPath := fs.String("catalog", "", "catalog `FILE` (JSON); default: the embedded catalog, or $SAFEPIPE_CATALOG")
	format := fs.String("format", "table", "output format: table or json")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cat, err := loadCatalog(*catalogPath)
	if err != nil {
		return fail(stderr, err)
	}
	switch *format {
	case "json":
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(cat); err != nil {
			return fail(stderr, err)
		}
	case "table":
		fmt.Fprintf(stdout, "catalog %s: %d regions\n\n", cat.Version, len(cat.Regions))
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "REGION\tNAME\tTIER\tOPT-IN\tTIME ZONE\tAZ IDS")
		for _, r := range cat.Regions {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\n", r.Code, r.Name, r.Tier, r.OptIn, r.TimeZone, strings.Join(r.AZs, ","))
		}
		tw.Flush()
	default:
		return fail(stderr, fmt.Errorf("--format %q is unknown (want table or json)", *format))
	}
	return 0
}
