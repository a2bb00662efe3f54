// Command benchsynth is `make bench-synth`: it builds the reference app
// (examples/orders) and an empty CDK Go app (internal/benchsynth/empty, one
// empty stack), runs each -n times interleaved (empty, reference, empty,
// reference, …) so that both see the same load on a shared machine, and
// prints the median wall time, CPU time (user+sys) and peak resident set of
// each, and the ratios reference/empty.
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
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// app is one program under measurement.
type app struct {
	name, pkg, bin string
	runs           []sample
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
	flag.Parse()
	if err := run(os.Stdout, *n, *ref, *empty, *work, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "bench-synth:", err)
		os.Exit(1)
	}
}

func run(w io.Writer, n int, ref, empty, work string, verbose bool) error {
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
	apps := []*app{
		{name: "empty", pkg: empty},
		{name: filepath.Base(ref), pkg: ref},
	}
	for _, a := range apps {
		a.bin = filepath.Join(work, "bin", a.name)
		cmd := exec.Command("go", "build", "-o", a.bin, a.pkg)
		cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", a.pkg, err)
		}
	}
	for i := range n {
		for _, a := range apps {
			s, err := measure(a, root, filepath.Join(work, fmt.Sprintf("out-%s-%d", a.name, i)))
			if err != nil {
				return err
			}
			a.runs = append(a.runs, s)
			if verbose {
				fmt.Fprintf(w, "run %s %d %.2f %.2f %.1f\n", a.name, i+1, s.wall.Seconds(), s.cpu.Seconds(), float64(s.rssKB)/1024)
			}
		}
	}
	fmt.Fprintf(w, "bench-synth: N=%d runs each, interleaved, medians\n", n)
	fmt.Fprintf(w, "%-10s %9s %8s %8s\n", "app", "wall_s", "cpu_s", "rss_mb")
	med := make([]sample, len(apps))
	for i, a := range apps {
		med[i] = median(a.runs)
		fmt.Fprintf(w, "%-10s %9.2f %8.2f %8.1f\n", a.name, med[i].wall.Seconds(), med[i].cpu.Seconds(), float64(med[i].rssKB)/1024)
	}
	fmt.Fprintf(w, "%-10s %9.2f %8.2f %8.2f\n", "ratio",
		med[1].wall.Seconds()/med[0].wall.Seconds(), med[1].cpu.Seconds()/med[0].cpu.Seconds(), float64(med[1].rssKB)/float64(med[0].rssKB))
	return nil
}

// measure runs a once from root with its own CDK_OUTDIR, then removes it.
func measure(a *app, root, out string) (sample, error) {
	cmd := exec.Command(a.bin)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CDK_OUTDIR="+out, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	defer os.RemoveAll(out)
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
