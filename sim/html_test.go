package sim

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromium finds Debian's headless browser; .ci/run installs it (apt-get
// install -y chromium) where it is missing.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed and could not be here: install Debian's package (apt-get install -y chromium; .ci/run does) to run the browser test of the HTML page")
	return ""
}

// runChromium starts Debian's Chromium headless with the flags this
// machine needs (no network, no background services, a new empty profile).
func runChromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1300,1100", "--virtual-time-budget=5000"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	require.NoError(t, cmd.Run(), "chromium: %s", errOut.String())
	return out.Bytes()
}

// TestHTMLInChromium loads the page in a real browser, lets its script
// draw, and checks the rendered DOM and a screenshot.
func TestHTMLInChromium(t *testing.T) {
	bin := chromium(t)
	res, err := Run(load(t, "good"), Options{Start: monday, Faults: faults(t, "us-east-1:Prod-W2+45m")})
	require.NoError(t, err)
	require.Equal(t, ExitStopped, res.ExitCode)
	dir := t.TempDir()
	page := filepath.Join(dir, "sim.html")
	var b bytes.Buffer
	require.NoError(t, res.WriteHTML(&b))
	require.NoError(t, os.WriteFile(page, b.Bytes(), 0o644))
	assert.NotContains(t, b.String(), "<rect", "the page draws itself: the rectangles are not in the HTML")

	dom := string(runChromium(t, bin, "--dump-dom", "file://"+page))
	assert.Contains(t, dom, `data-rendered="true"`, "the script ran to its end")
	count := func(re string) int { return len(regexp.MustCompile(re).FindAllString(dom, -1)) }
	// One bar per phase each stage run went through: waiting, deploying,
	// baking.
	want := 0
	for _, s := range res.Stages {
		if s.Arrived != "" && s.Start != "" && s.Arrived != s.Start {
			want++
		}
		if s.Start != "" {
			want++
		}
		if s.Baking != "" {
			want++
		}
		if s.Arrived != "" && s.Start == "" {
			want++
		}
	}
	assert.Equal(t, want, count(`<rect class="bar `), "stage bars")
	assert.Equal(t, 2, count(`<rect class="bar deploy rollback`)+count(`<rect class="bar bake rollback`), "the rollback execution deploys and bakes")
	assert.Equal(t, 1, count(`<g class="fault">`), "the fault's marker")
	assert.Contains(t, dom, "fault us-east-1:Prod-W2+45m")
	assert.Equal(t, 3, count(`<g class="region"`), "one share strip per production region")
	assert.Equal(t, len(res.Closed), count(`<rect class="closed`), "closed-window shading")
	assert.Equal(t, 4, count(`<div class="stage `), "the pipeline diagram has every stage")
	assert.Contains(t, dom, "entry FAIL: safepipe-pipe-Prod-W2-entry (8220 min), window * * 9-15 ? * MON-THU UTC")
	assert.Contains(t, dom, "STOPPED · exit 3")

	shot := filepath.Join(dir, "shot.png")
	runChromium(t, bin, "--screenshot="+shot, "file://"+page)
	f, err := os.Open(shot)
	require.NoError(t, err)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	assert.Equal(t, 1300, img.Bounds().Dx())
	colours := map[string]bool{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			switch [3]uint32{r >> 8, g >> 8, b >> 8} {
			case [3]uint32{0x1e, 0x88, 0xe5}:
				colours["deploy bar"] = true
			case [3]uint32{0xf5, 0x7c, 0x00}:
				colours["rollback bar"] = true
			case [3]uint32{0xef, 0x6c, 0x00}:
				colours["stopped badge"] = true
			case [3]uint32{0xec, 0xef, 0xf1}:
				colours["closed window"] = true
			case [3]uint32{0x43, 0xa0, 0x47}:
				colours["region share"] = true
			}
		}
	}
	for _, c := range []string{"deploy bar", "rollback bar", "stopped badge", "closed window", "region share"} {
		assert.True(t, colours[c], "the screenshot shows the %s", c)
	}
	if testing.Verbose() {
		t.Logf("screenshot: %s (%s)", shot, strings.Repeat("=", 3))
	}
}
