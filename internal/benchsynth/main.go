// Command benchsynth is `make bench-synth`: it builds the reference app
// (examples/orders) and an empty CDK Go app (internal/benchsynth/empty, one
// empty stack), runs each -n times interleaved (empty, reference, empty,
// reference, …) so that both see the same load on a shared machine, and
// prints the median wall time, CPU time (user+sys) and peak resident set of
// each, and the ratios reference/empty. Beside them it runs the floor of
// the reference's own assembly (-floor: the same templates through
// CfnInclude in TypeScript) and prints reference/floor. With -scale 1,2,4
// it also synthesizes the reference over the default catalog with every
// region k times (scaledCatalog, through SAFEPIPE_CATALOG), each scale
// beside the floor of its own assembly, and prints how the reference and
// the floor grow.
//
// Each run is a whole process, started from the module root (the gate
// controller's asset builds from the current module) with a fresh
// CDK_OUTDIR. CPU and peak memory come from wait4's rusage, which covers the
// app and every child it waited for: the jsii runtime's node process, and
// the "go build" of each bundled Lambda handler. ru_maxrss is the largest
// single process of that tree (in practice node), not their sum, as in
// /usr/bin/time -v. A run fails the benchmark if it exits non-zero or if its
// cloud assembly carries an error annotation (a synth that reports errors
// may still exit 0 and would be measured doing less work).
//
// Output (one line per app, then the ratios; fields separated by spaces,
// widths fixed, numbers with fixed decimals):
//
//	bench-synth: N=5 runs each, interleaved, medians
//	app           wall_s    cpu_s   rss_mb
//	empty           6.63    10.39    502.1
//	orders         25.95    35.18    663.5
//	ratio           3.91     3.39     1.32
//
// With -v, each run is printed first as "run <app> <i> wall_s cpu_s rss_mb".
//
// With -phases, each run also asks CDK for its own performance counters
// (context aws:cdk:performance-reporting with @aws-cdk/core.slowSynthThreshold
// 0, and CDK_PERF_COUNTERS_FILE: aws-cdk-lib's App then writes the counters
// it keeps at synth) and a second table gives their medians in
// milliseconds, per app: where a synth spends its time, phase by phase. The
// counters are aws-cdk-lib's, named as it names them; fs.readSync is the
// jsii kernel blocked reading the Go program's next request (the kernel
// reads requests synchronously), so it measures the Go side and the pipe,
// over the whole run.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/safepipe/safepipe/internal/strict"
	"github.com/safepipe/safepipe/waves"
)

// app is one program under measurement.
type app struct {
	name, pkg, bin string
	// args follow bin (the floor runs "node floor.js").
	args []string
	// env is added to the app's environment (the scaled catalog).
	env []string
	// scale is the catalog's multiple the app synthesizes (0 for the
	// empty app).
	scale int
	runs  []sample
	// counters are CDK's performance counters of each run (-phases).
	counters []map[string]float64
}

// phases are the CDK performance counters -phases prints, in order.
var phases = []struct{ key, label string }{
	{"phase:Load", "load (aws-cdk-lib into the jsii kernel)"},
	{"phase:Construction", "construction (new App to app.Synth)"},
	{"phase:Synthesis", "synthesis"},
	{"validateTemplates", "  template validation (CDK's rules engine)"},
	{"CloudFormationValidate.validate", "    evaluating its rules on every template"},
	{"Stack.resolve", "  resolving tokens"},
	{"fs.readSync", "jsii kernel waiting on the Go program"},
	{"fs.writeSync", "jsii kernel answering the Go program"},
}

// sample is one run's measures.
type sample struct {
	wall, cpu time.Duration
	rssKB     int64
}

func main() {
	n := flag.Int("n", 5, "runs of each app (interleaved); the median is reported")
	ref := flag.String("ref", "./examples/orders", "the reference app's package")
	empty := flag.String("empty", "./internal/benchsynth/empty", "the empty app's package")
	work := flag.String("dir", "", "directory for binaries and cloud assemblies. Default: a new temporary directory, removed at the end")
	verbose := flag.Bool("v", false, "print every run")
	withPhases := flag.Bool("phases", false, "also print the medians of CDK's own performance counters, phase by phase")
	floorDir := flag.String("floor", "../shared/bench-floor", "the synth floor's builder (floor.sh), relative to the module root; \"none\" leaves the floor out")
	validation := flag.String("validation", "on", "aws-cdk-lib's template validation (CDK_VALIDATION) in every app: on, off or both (each mode its own table)")
	scaleList := flag.String("scale", "1", "the catalog's multiples to synthesize, e.g. 1,2,4: each k>1 runs the reference with every region of the default catalog k times (SAFEPIPE_CATALOG), beside the floor of its own assembly")
	flag.Parse()
	scales, err := parseScales(*scaleList)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-synth:", err)
		os.Exit(2)
	}
	var modes []bool
	switch *validation {
	case "on":
		modes = []bool{true}
	case "off":
		modes = []bool{false}
	case "both":
		modes = []bool{true, false}
	default:
		fmt.Fprintf(os.Stderr, "bench-synth: -validation %q: want on, off or both\n", *validation)
		os.Exit(2)
	}
	for _, on := range modes {
		if err := run(os.Stdout, *n, *ref, *empty, *work, *floorDir, scales, on, *verbose, *withPhases); err != nil {
			fmt.Fprintln(os.Stderr, "bench-synth:", err)
			os.Exit(1)
		}
	}
}

func run(w io.Writer, n int, ref, empty, work, floorDir string, scales []int, validation, verbose, withPhases bool) error {
	if n < 1 {
		return fmt.Errorf("-n %d: need at least one run", n)
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if work == "" {
		if work, err = os.MkdirTemp("", "bench-synth-*"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	emptyApp := &app{name: "empty", pkg: empty, bin: filepath.Join(work, "bin", "empty")}
	refBin := filepath.Join(work, "bin", filepath.Base(ref))
	for _, b := range []struct{ bin, pkg string }{{emptyApp.bin, empty}, {refBin, ref}} {
		cmd := exec.Command("go", "build", "-o", b.bin, b.pkg)
		cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", b.pkg, err)
		}
	}
	apps := []*app{emptyApp}
	env := []string{"CDK_VALIDATION=" + map[bool]string{true: "true", false: "false"}[validation]}
	if floorDir != "none" {
		if !filepath.IsAbs(floorDir) {
			floorDir = filepath.Join(root, floorDir)
		}
		if _, err := os.Stat(filepath.Join(floorDir, "floor.sh")); err != nil {
			return fmt.Errorf("-floor %s: %w (\"-floor none\" leaves the floor out)", floorDir, err)
		}
	}
	for _, k := range scales {
		name, suffix := filepath.Base(ref), ""
		if k > 1 {
			suffix = fmt.Sprintf("-x%d", k)
			name += suffix
		}
		a := &app{name: name, bin: refBin, scale: k}
		if k > 1 {
			catalog := filepath.Join(work, fmt.Sprintf("catalog-x%d.json", k))
			b, err := scaledCatalog(k)
			if err != nil {
				return err
			}
			if err := os.WriteFile(catalog, b, 0o644); err != nil {
				return err
			}
			a.env = []string{"SAFEPIPE_CATALOG=" + catalog}
		}
		apps = append(apps, a)
		if floorDir == "none" {
			continue
		}
		// The floor: the same assembly as the reference's, emitted by a
		// TypeScript app through CfnInclude (../shared/bench-floor), built
		// once from one synth of the reference at this scale.
		refOut := filepath.Join(work, "ref"+suffix+"-cdk.out")
		if _, err := os.Stat(filepath.Join(refOut, "manifest.json")); err != nil {
			if _, err := measure(a, root, refOut, "", env, true); err != nil {
				return fmt.Errorf("the reference's assembly for the floor: %w", err)
			}
		}
		floorWork := filepath.Join(work, "floor"+suffix)
		if _, err := os.Stat(filepath.Join(floorWork, "floor-ts", "floor.js")); err != nil {
			cmd := exec.Command("bash", filepath.Join(floorDir, "floor.sh"), refOut, floorWork)
			cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("floor.sh: %w", err)
			}
		}
		apps = append(apps, &app{name: "floor" + suffix, bin: "node", args: []string{filepath.Join(floorWork, "floor-ts", "floor.js")}, scale: k})
	}
	for i := range n {
		for _, a := range apps {
			counters := ""
			if withPhases {
				counters = filepath.Join(work, fmt.Sprintf("perf-%s-%d.json", a.name, i))
			}
			s, err := measure(a, root, filepath.Join(work, fmt.Sprintf("out-%s-%d", a.name, i)), counters, env, false)
			if err != nil {
				return err
			}
			a.runs = append(a.runs, s)
			if withPhases {
				c, err := readCounters(counters)
				if err != nil {
					return fmt.Errorf("%s: %w", a.name, err)
				}
				a.counters = append(a.counters, c)
			}
			if verbose {
				fmt.Fprintf(w, "run %s %d %.2f %.2f %.1f\n", a.name, i+1, s.wall.Seconds(), s.cpu.Seconds(), float64(s.rssKB)/1024)
			}
		}
	}
	fmt.Fprintf(w, "bench-synth: N=%d runs each, interleaved, medians, template validation %s\n", n, map[bool]string{true: "on", false: "off"}[validation])
	fmt.Fprintf(w, "%-10s %9s %8s %8s\n", "app", "wall_s", "cpu_s", "rss_mb")
	med := map[*app]sample{}
	for _, a := range apps {
		med[a] = median(a.runs)
		fmt.Fprintf(w, "%-10s %9.2f %8.2f %8.1f\n", a.name, med[a].wall.Seconds(), med[a].cpu.Seconds(), float64(med[a].rssKB)/1024)
	}
	ratio := func(label string, a, b sample) {
		fmt.Fprintf(w, "%-10s %9.2f %8.2f %8.2f\n", label, a.wall.Seconds()/b.wall.Seconds(), a.cpu.Seconds()/b.cpu.Seconds(), float64(a.rssKB)/float64(b.rssKB))
	}
	refs, floors := byScale(apps)
	if r, ok := refs[1]; ok {
		ratio("ratio", med[r], med[emptyApp])
	}
	for _, k := range scales {
		if f, ok := floors[k]; ok {
			label := "/floor" // the reference over the floor of its own assembly
			if k > 1 {
				label = fmt.Sprintf("x%d/floor", k)
			}
			ratio(label, med[refs[k]], med[f])
		}
	}
	if len(scales) > 1 {
		printScaling(w, scales, refs, floors, med)
	}
	if withPhases {
		printPhases(w, apps)
	}
	return nil
}

// byScale indexes the reference's and the floor's apps by scale.
func byScale(apps []*app) (refs, floors map[int]*app) {
	refs, floors = map[int]*app{}, map[int]*app{}
	for _, a := range apps {
		switch {
		case a.scale == 0:
		case a.bin == "node":
			floors[a.scale] = a
		default:
			refs[a.scale] = a
		}
	}
	return refs, floors
}

// printScaling prints, per scale, the CPU medians of the reference and its
// floor and how each grew against the first scale: linear growth is the
// scale's ratio to the first.
func printScaling(w io.Writer, scales []int, refs, floors map[int]*app, med map[*app]sample) {
	fmt.Fprintf(w, "scaling: CPU medians; growth is against %dx (linear: the scale's ratio)\n", scales[0])
	fmt.Fprintf(w, "%-6s %8s %9s %8s %11s %11s\n", "scale", "ref_cpu", "floor_cpu", "/floor", "ref_growth", "floor_growth")
	base := med[refs[scales[0]]].cpu.Seconds()
	for _, k := range scales {
		r := med[refs[k]].cpu.Seconds()
		f, ok := floors[k]
		if !ok {
			fmt.Fprintf(w, "%-6s %8.2f %9s %8s %11.2f %11s\n", fmt.Sprintf("%dx", k), r, "-", "-", r/base, "-")
			continue
		}
		fc := med[f].cpu.Seconds()
		fmt.Fprintf(w, "%-6s %8.2f %9.2f %8.2f %11.2f %11.2f\n", fmt.Sprintf("%dx", k), r, fc, r/fc, r/base, fc/med[floors[scales[0]]].cpu.Seconds())
	}
}

// parseScales reads -scale: distinct whole numbers from 1 to 8, comma
// separated, in increasing order.
func parseScales(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || k < 1 || k > 8 {
			return nil, fmt.Errorf("-scale %q: %q is not a whole number from 1 to 8", s, f)
		}
		if len(out) > 0 && k <= out[len(out)-1] {
			return nil, fmt.Errorf("-scale %q: give the multiples once each, in increasing order", s)
		}
		out = append(out, k)
	}
	return out, nil
}

// scaledCatalog is the default catalog with every region k times: copy c
// of a region n-N is n-(10c+N), with its AZ IDs renumbered alike (copy 1
// of us-east-1 is us-east-11, AZs use11-az1 …), so that a plan over it has
// k times the regions, each as the original. Region numbers of the default
// catalog are below 10, so no copy collides with a real code.
func scaledCatalog(k int) ([]byte, error) {
	c := waves.DefaultCatalog()
	regions := slices.Clone(c.Regions)
	for n := 1; n < k; n++ {
		for _, r := range c.Regions {
			code, err := renumber(r.Code, n)
			if err != nil {
				return nil, err
			}
			prefix, _ := waves.AZIDPrefix(r.Code)
			newPrefix, _ := waves.AZIDPrefix(code)
			azs := make([]string, len(r.AZs))
			for i, az := range r.AZs {
				azs[i] = newPrefix + strings.TrimPrefix(az, prefix)
			}
			r.Code, r.Name, r.AZs, r.Services = code, fmt.Sprintf("%s (copy %d)", r.Name, n), azs, slices.Clone(r.Services)
			regions = append(regions, r)
		}
	}
	c.Regions, c.Version = regions, fmt.Sprintf("%s-x%d", c.Version, k)
	b, err := json.MarshalIndent(c, "", " ")
	if err != nil {
		return nil, err
	}
	if _, err := waves.ParseCatalog(b); err != nil {
		return nil, fmt.Errorf("the %dx catalog: %w", k, err)
	}
	return b, nil
}

// renumber gives copy c of a region code: the trailing number n becomes
// 10*c+n.
func renumber(code string, c int) (string, error) {
	i := strings.LastIndexByte(code, '-')
	if i < 0 {
		return "", fmt.Errorf("region %q: no number to renumber", code)
	}
	n, err := strconv.Atoi(code[i+1:])
	if err != nil || n < 0 || n >= 10 {
		return "", fmt.Errorf("region %q: no single-digit number to renumber", code)
	}
	return fmt.Sprintf("%s-%d", code[:i], 10*c+n), nil
}

// printPhases prints the median of each counter in phases, per app, in
// milliseconds ("-" for a counter an app never recorded).
func printPhases(w io.Writer, apps []*app) {
	fmt.Fprintf(w, "phases: CDK's performance counters, medians, ms\n%-45s", "phase")
	for _, a := range apps {
		fmt.Fprintf(w, " %9s", a.name)
	}
	fmt.Fprintln(w)
	for _, p := range phases {
		fmt.Fprintf(w, "%-45s", p.label)
		for _, a := range apps {
			var v []float64
			for _, c := range a.counters {
				if x, ok := c[p.key]; ok {
					v = append(v, x)
				}
			}
			if len(v) == 0 {
				fmt.Fprintf(w, " %9s", "-")
				continue
			}
			fmt.Fprintf(w, " %9.0f", medianOf(v))
		}
		fmt.Fprintln(w)
	}
}

// maxCountersBytes bounds the counters file CDK writes (a few KiB).
const maxCountersBytes = 1 << 20

// readCounters reads the performance counters file aws-cdk-lib's App
// writes: {"counters": {"<name>": <total ms>, "<name>(cnt)": <calls>}}.
func readCounters(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("no performance counters from CDK (is aws-cdk-lib older than its performance reporting?): %w", err)
	}
	defer f.Close()
	b, err := strict.ReadAll(f, maxCountersBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var doc struct {
		Counters map[string]float64 `json:"counters"`
	}
	if err := strict.JSON(b, &doc, strict.Limits{MaxBytes: maxCountersBytes, MaxDepth: 4}); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc.Counters, nil
}

// medianOf is the median of v (the mean of the middle two for an even
// count); v is sorted in place.
func medianOf(v []float64) float64 {
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// measure runs a once from root with its own CDK_OUTDIR, then removes it.
// A non-empty counters asks CDK to write its performance counters there.
// env is added to the app's environment; keep leaves the assembly in
// place.
func measure(a *app, root, out, counters string, env []string, keep bool) (sample, error) {
	cmd := exec.Command(a.bin, a.args...)
	cmd.Dir = root
	cmd.Env = append(append(append(os.Environ(), "CDK_OUTDIR="+out, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1"), env...), a.env...)
	if counters != "" {
		cmd.Env = append(cmd.Env, "CDK_PERF_COUNTERS_FILE="+counters,
			`CDK_CONTEXT_JSON={"aws:cdk:performance-reporting":true,"@aws-cdk/core.slowSynthThreshold":0}`)
	}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if !keep {
		defer os.RemoveAll(out)
	}
	if err != nil {
		return sample{}, fmt.Errorf("%s: %w\n%s", a.name, err, stderr.Bytes())
	}
	if err := assemblyErrors(out); err != nil {
		return sample{}, fmt.Errorf("%s: %w\n%s", a.name, err, stderr.Bytes())
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return sample{}, errors.New("no rusage on this platform")
	}
	return sample{
		wall:  wall,
		cpu:   time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		rssKB: ru.Maxrss, // kilobytes on Linux (getrusage(2))
	}, nil
}

// assemblyErrors reports a cloud assembly whose manifests or metadata
// files carry an error annotation (aws:cdk:error), which `cdk synth` would
// refuse.
func assemblyErrors(dir string) error {
	var bad []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		// CDK writes large metadata beside the manifest, in <stack>.metadata.json.
		if err != nil || d.IsDir() || (d.Name() != "manifest.json" && !strings.HasSuffix(d.Name(), ".metadata.json")) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(`"aws:cdk:error"`)) {
			bad = append(bad, path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(bad) == 0 {
		if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
			return fmt.Errorf("no cloud assembly in %s: %w", dir, err)
		}
		return nil
	}
	return fmt.Errorf("synth reported errors (aws:cdk:error) in %s", strings.Join(bad, ", "))
}

// median is the per-measure median of runs (each measure sorted on its own;
// the mean of the middle two for an even count).
func median(runs []sample) sample {
	mid := func(v []int64) int64 {
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	var wall, cpu, rss []int64
	for _, r := range runs {
		wall, cpu, rss = append(wall, int64(r.wall)), append(cpu, int64(r.cpu)), append(rss, r.rssKB)
	}
	return sample{wall: time.Duration(mid(wall)), cpu: time.Duration(mid(cpu)), rssKB: mid(rss)}
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the safepipe checkout")
	}
	return filepath.Dir(mod), nil
}
