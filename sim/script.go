package sim

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Scripts: a CodeBuild action that safepipe generated (its project sets
// SAFEPIPE_WATCH) runs its real build commands under /bin/sh, as CodeBuild
// would, with stand-ins for aws, date and sleep first on its PATH. The
// stand-ins ask the simulator over a FIFO and wait for its answer: aws
// answers from the simulated state (awsCLI), date tells the simulated time,
// and sleep yields until the simulated clock has moved on. The script is a
// coroutine of the simulation: while it runs, simulated time stands still.
//
// safepipe no longer generates such actions (the gate controller replaced
// them); the runner keeps older pipelines, and the fixtures of the defects
// they had, executable.

// Bounds on a script: wall-clock time between two requests, requests per
// simulated minute, and output kept.
const (
	scriptStall      = 20 * time.Second
	scriptPerMinute  = 2000
	scriptOutputKeep = 64 << 10
)

type scriptRun struct {
	ar       *actionRun
	dir      string
	buildID  string
	cmd      *exec.Cmd
	req      *os.File
	reqR     *bufio.Reader
	ack      *os.File
	reqs     chan []string
	exited   chan error
	wakeAt   time.Time
	sleeping bool
	out      bytes.Buffer
	done     bool
	failed   bool
	why      string
}

const standIn = `#!/bin/sh
# safepipe simulator stand-in: asks the simulator and prints its answer
# (shell built-ins only, so that a call costs one process).
d="$SAFEPIPE_SIM_DIR"
{
  printf '%s\0' "$(( $# + 3 ))" "${0##*/}" "TZ=${TZ-}" "AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID-}"
  for a in "$@"; do printf '%s\0' "$a"; done
} > "$d/req"
IFS= read -r rc < "$d/ack"
while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l"; done < "$d/out"
if [ -s "$d/err" ]; then while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l" >&2; done < "$d/err"; fi
exit "$rc"
`

// isScriptAction reports whether the simulator runs the action's commands.
func isScriptAction(a *Action) bool {
	_, ok := a.Env["SAFEPIPE_WATCH"]
	return a.Provider == "CodeBuild" && ok && len(a.Commands) > 0
}

// startScript starts the action's commands. Errors setting it up fail the
// action with the reason.
func (r *runner) startScript(ar *actionRun, sr *stageRun) {
	sc := &scriptRun{ar: ar, buildID: fmt.Sprintf("%s:sim-%d", ar.a.Name, len(r.scripts)+1)}
	ar.script = sc
	fail := func(err error) {
		sc.done, sc.failed, sc.why = true, true, "the simulator could not run the script: "+err.Error()
		r.note(fmt.Sprintf("stage %s: action %s: %s", sr.st.Name, ar.a.Name, sc.why))
	}
	dir, err := os.MkdirTemp("", "safepipe-sim-*")
	if err != nil {
		fail(err)
		return
	}
	sc.dir = dir
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		fail(err)
		return
	}
	for _, n := range []string{"aws", "date", "sleep"} {
		if err := os.WriteFile(filepath.Join(bin, n), []byte(standIn), 0o755); err != nil {
			fail(err)
			return
		}
	}
	for _, n := range []string{"req", "ack"} {
		if err := syscall.Mkfifo(filepath.Join(dir, n), 0o600); err != nil {
			fail(err)
			return
		}
	}
	// O_RDWR keeps each FIFO open on our side, so that opening it never
	// blocks and the stand-ins' writes and reads pair up with ours.
	if sc.req, err = os.OpenFile(filepath.Join(dir, "req"), os.O_RDWR, 0); err != nil {
		fail(err)
		return
	}
	if sc.ack, err = os.OpenFile(filepath.Join(dir, "ack"), os.O_RDWR, 0); err != nil {
		fail(err)
		return
	}
	sc.reqR = bufio.NewReader(sc.req)
	var script strings.Builder
	for _, c := range ar.a.Commands {
		// CodeBuild fails the phase when a command fails.
		script.WriteString(c)
		script.WriteString("\n_rc=$?; [ \"$_rc\" -eq 0 ] || exit \"$_rc\"\n")
	}
	cmd := exec.Command("/bin/sh", "-c", script.String())
	cmd.Dir = dir
	env := map[string]string{
		"PATH":                bin + ":/usr/bin:/bin",
		"HOME":                dir,
		"SAFEPIPE_SIM_DIR":    dir,
		"CODEBUILD_BUILD_ID":  sc.buildID,
		"CODEBUILD_INITIATOR": "codepipeline/" + r.p.Name,
		"AWS_REGION":          ar.a.Place.Region,
		"AWS_DEFAULT_REGION":  ar.a.Place.Region,
		"AWS_PAGER":           "",
	}
	for k, v := range ar.a.Env {
		env[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.Stdout = &limitedBuffer{b: &sc.out}
	cmd.Stderr = &limitedBuffer{b: &sc.out}
	if err := cmd.Start(); err != nil {
		fail(err)
		return
	}
	sc.cmd = cmd
	sc.reqs, sc.exited = make(chan []string), make(chan error, 1)
	go func() { sc.exited <- cmd.Wait() }()
	go func() {
		for {
			args, err := readRequest(sc.reqR)
			if err != nil {
				close(sc.reqs)
				return
			}
			sc.reqs <- args
		}
	}()
	r.scripts = append(r.scripts, sc)
	r.event(sr.st.Name, "%s: runs its script (build %s)", ar.a.Name, sc.buildID)
	r.serve(sc)
}

type limitedBuffer struct{ b *bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := scriptOutputKeep - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func readRequest(br *bufio.Reader) ([]string, error) {
	field := func() (string, error) {
		s, err := br.ReadString(0)
		if err != nil {
			return "", err
		}
		return strings.TrimSuffix(s, "\x00"), nil
	}
	n, err := field()
	if err != nil {
		return nil, err
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 1 || count > 10000 {
		return nil, fmt.Errorf("bad request header %q", n)
	}
	out := make([]string, 0, count)
	for range count {
		f, err := field()
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// stepScripts resumes every script whose sleep is over and serves it until
// it sleeps again or exits.
func (r *runner) stepScripts() {
	for _, sc := range r.scripts {
		if sc.done {
			continue
		}
		if limit := time.Duration(sc.ar.a.Timeout) * time.Minute; limit > 0 && r.now.Sub(sc.ar.startedAt) >= limit {
			r.killScript(sc, fmt.Sprintf("the build timed out after %d min", sc.ar.a.Timeout))
			continue
		}
		if !sc.sleeping || r.now.Before(sc.wakeAt) {
			continue
		}
		sc.sleeping = false
		r.reply(sc, "", "", 0) // the sleep is over
		r.serve(sc)
	}
}

func (r *runner) serve(sc *scriptRun) {
	for n := 0; ; n++ {
		if n > scriptPerMinute {
			r.killScript(sc, fmt.Sprintf("more than %d commands in one simulated minute", scriptPerMinute))
			return
		}
		select {
		case args, ok := <-sc.reqs:
			if !ok {
				r.finishScript(sc, <-sc.exited)
				return
			}
			if r.handle(sc, args) {
				return // sleeping
			}
		case err := <-sc.exited:
			r.finishScript(sc, err)
			return
		case <-time.After(scriptStall):
			r.killScript(sc, fmt.Sprintf("no progress for %s of wall-clock time", scriptStall))
			return
		}
	}
}

// handle answers one request; it returns true when the script sleeps.
func (r *runner) handle(sc *scriptRun, args []string) bool {
	name := args[0]
	env := map[string]string{}
	rest := args[1:]
	for len(rest) > 0 && (strings.HasPrefix(rest[0], "TZ=") || strings.HasPrefix(rest[0], "AWS_ACCESS_KEY_ID=")) {
		k, v, _ := strings.Cut(rest[0], "=")
		env[k] = v
		rest = rest[1:]
	}
	switch name {
	case "sleep":
		secs := 60.0
		if len(rest) > 0 {
			if f, err := strconv.ParseFloat(strings.TrimSuffix(rest[0], "s"), 64); err == nil && f >= 0 {
				secs = f
			}
		}
		mins := max(1, int((secs+59)/60))
		sc.wakeAt, sc.sleeping = r.now.Add(time.Duration(mins)*time.Minute), true
		return true
	case "date":
		out, err := formatDate(r.now, env["TZ"], rest)
		if err != nil {
			r.reply(sc, "", "date: "+err.Error()+"\n", 1)
			return false
		}
		r.reply(sc, out+"\n", "", 0)
	case "aws":
		out, errOut, rc := r.awsCLI(sc, rest, env)
		r.reply(sc, out, errOut, rc)
	default:
		r.reply(sc, "", name+": not a stand-in\n", 127)
	}
	return false
}

func (r *runner) reply(sc *scriptRun, out, errOut string, rc int) {
	_ = os.WriteFile(filepath.Join(sc.dir, "out"), []byte(out), 0o600)
	_ = os.WriteFile(filepath.Join(sc.dir, "err"), []byte(errOut), 0o600)
	_, _ = io.WriteString(sc.ack, strconv.Itoa(rc)+"\n")
}

func (r *runner) finishScript(sc *scriptRun, err error) {
	sc.done = true
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		sc.failed, sc.why = true, fmt.Sprintf("the script exited %d: %s", ee.ExitCode(), lastLine(sc.out.String()))
	default:
		sc.failed, sc.why = true, err.Error()
	}
	r.cleanScript(sc)
	st := sc.ar.st(r)
	if sc.failed {
		r.event(st, "%s: %s", sc.ar.a.Name, sc.why)
	} else {
		r.event(st, "%s: the script succeeded (%s)", sc.ar.a.Name, lastLine(sc.out.String()))
	}
}

func (r *runner) killScript(sc *scriptRun, why string) {
	if sc.cmd != nil && sc.cmd.Process != nil {
		_ = sc.cmd.Process.Kill()
		<-sc.exited
	}
	sc.done, sc.failed, sc.why = true, true, "the simulator stopped the script: "+why
	r.cleanScript(sc)
}

func (r *runner) cleanScript(sc *scriptRun) {
	if sc.req != nil {
		sc.req.Close()
	}
	if sc.ack != nil {
		sc.ack.Close()
	}
	if sc.dir != "" {
		os.RemoveAll(sc.dir)
	}
}

// stopScripts ends every script still running (the simulation is over).
func (r *runner) stopScripts() {
	for _, sc := range r.scripts {
		if !sc.done {
			r.killScript(sc, "the simulation ended")
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// formatDate answers date [-u] [+FORMAT] at the simulated time in TZ.
func formatDate(now time.Time, tz string, args []string) (string, error) {
	loc := time.UTC
	if tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			return "", fmt.Errorf("unknown time zone %q", tz)
		}
		loc = l
	}
	format := "%a %b %e %H:%M:%S %Z %Y"
	for _, a := range args {
		switch {
		case a == "-u":
			loc = time.UTC
		case strings.HasPrefix(a, "+"):
			format = a[1:]
		default:
			return "", fmt.Errorf("option %q is not modelled", a)
		}
	}
	t := now.In(loc)
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		switch format[i] {
		case 's':
			b.WriteString(strconv.FormatInt(t.Unix(), 10))
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'Y':
			b.WriteString(t.Format("2006"))
		case 'm':
			b.WriteString(t.Format("01"))
		case 'd':
			b.WriteString(t.Format("02"))
		case 'e':
			b.WriteString(fmt.Sprintf("%2d", t.Day()))
		case 'H':
			b.WriteString(t.Format("15"))
		case 'M':
			b.WriteString(t.Format("04"))
		case 'S':
			b.WriteString(t.Format("05"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'a':
			b.WriteString(t.Format("Mon"))
		case 'b':
			b.WriteString(t.Format("Jan"))
		case 'u':
			b.WriteString(strconv.Itoa((int(t.Weekday())+6)%7 + 1))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("format %%%c is not modelled", format[i])
		}
	}
	return b.String(), nil
}
