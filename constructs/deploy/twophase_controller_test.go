package deploy

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/safepipe/safepipe/twophase"
)

// release deploys version with the changes it declares, through the real
// alias controller, and returns the response.
func (w *controllerWorld) release(version, mode string, changes ...twophase.Change) map[string]any {
	w.t.Helper()
	return w.requestWith("Update", map[string]any{"FunctionName": "orders", "AliasName": "live", "Version": version,
		"Mode": mode, "Percent": "10", "Ledger": twophase.LedgerPrefix + "orders-service", "Changes": twophase.Property(changes)})
}

func (w *controllerWorld) ledger() map[string]any {
	w.t.Helper()
	out, err := exec.Command("python3", "-c", fmt.Sprintf(`import boto3
print(boto3.client("ssm").get_parameter(Name=%q)["Parameter"]["Value"])`, twophase.LedgerPrefix+"orders-service")).CombinedOutput()
	require.NoError(w.t, err, "%s", out)
	var l map[string]any
	require.NoError(w.t, json.Unmarshal(out, &l), "%s", out)
	return l
}

// TestTwoPhaseAgainstMoto walks a two-phase change through the real alias
// controller: prepare, activate, and the refusals that keep the order safe
// (activate before prepare serves everything; un-prepare while active).
func TestTwoPhaseAgainstMoto(t *testing.T) {
	w := newControllerWorld(t)
	prepare := twophase.Change{Name: "order-record-v2", Phase: twophase.ChangePrepare}
	activate := prepare
	activate.Phase = twophase.ChangeActivate
	ok := func(r map[string]any) {
		t.Helper()
		require.Equal(t, "SUCCESS", r["Status"], "%v", r["Reason"])
	}
	refused := func(r map[string]any, why string) {
		t.Helper()
		require.Equal(t, "FAILED", r["Status"])
		assert.Contains(t, r["Reason"], why)
	}

	ok(w.release("1", "full")) // before the change
	// The prepare release's one-box: 10% of the traffic reads both forms.
	ok(w.release("2", "canary", prepare))
	assert.Equal(t, map[string]any{"full": "none", "canary": "prepare", "version": "1"}, w.ledger()["changes"].(map[string]any)["order-record-v2"])

	// Activating now would let writers write what 90% of readers reject.
	r := w.release("3", "canary", activate)
	refused(r, "its prepare does not serve all of this alias's traffic")
	main, weights := w.alias()
	assert.Equal(t, "1", main, "a refused deployment leaves the alias alone")
	assert.Equal(t, map[string]float64{"2": 0.1}, weights)

	// The prepare serves everything: activation may start, one-box first.
	ok(w.release("2", "full", prepare))
	ok(w.release("3", "canary", activate))
	e := w.ledger()["changes"].(map[string]any)["order-record-v2"].(map[string]any)
	assert.Equal(t, "prepare", e["full"])
	assert.Equal(t, "activate", e["canary"])

	// While any writer writes the new form, a version that does not read
	// it is refused — a rollback past prepare included.
	refused(w.release("1", "full"), "change order-record-v2 is active here")
	refused(w.release("1", "canary"), "deactivate first")
	ok(w.release("3", "full", activate))
	refused(w.release("1", "full"), "change order-record-v2 is active here")

	// The safe order back: deactivate (the prepare release), then
	// un-prepare.
	ok(w.release("2", "full", prepare))
	assert.Equal(t, "prepare", w.ledger()["changes"].(map[string]any)["order-record-v2"].(map[string]any)["full"])
	ok(w.release("1", "full"))
	assert.Empty(t, w.ledger()["changes"], "nothing left to protect once no version declares the change")
	main, weights = w.alias()
	assert.Equal(t, "1", main)
	assert.Empty(t, weights)
}

// TestUpgradeDowngradeAgainstMoto takes the alias through the
// upgrade-downgrade test's steps with the real controller: the version live
// before the test is read at deploy time, not written in code, and the
// steps must run in order.
func TestUpgradeDowngradeAgainstMoto(t *testing.T) {
	w := newControllerWorld(t)
	step := func(version string, mode AliasMode) map[string]any {
		t.Helper()
		return w.requestWith("Update", map[string]any{"FunctionName": "orders", "AliasName": "live", "Version": version,
			"Mode": string(mode), "Percent": "50", "Ledger": twophase.LedgerPrefix + "orders-service", "Changes": "{}"})
	}
	ok := func(r map[string]any) {
		t.Helper()
		require.Equal(t, "SUCCESS", r["Status"], "%v", r["Reason"])
	}
	ok(w.release("2", "full")) // the last release left version 2 live

	// Downgrading before the test's first step: refused.
	r := step("3", AliasDowngrade)
	require.Equal(t, "FAILED", r["Status"])
	assert.Contains(t, r["Reason"], "no upgrade-half of version 3 is recorded")

	ok(step("3", AliasUpgradeHalf))
	main, weights := w.alias()
	assert.Equal(t, "2", main)
	assert.Equal(t, map[string]float64{"3": 0.5}, weights, "both versions serve together")
	ok(step("3", AliasFull))
	main, weights = w.alias()
	assert.Equal(t, "3", main)
	assert.Empty(t, weights)
	ok(step("3", AliasDowngradeHalf))
	main, weights = w.alias()
	assert.Equal(t, "3", main)
	assert.Equal(t, map[string]float64{"2": 0.5}, weights, "the version live before the test takes half back")
	r = step("3", AliasDowngrade)
	ok(r)
	main, weights = w.alias()
	assert.Equal(t, "2", main, "the version live before the test, read at deploy time")
	assert.Empty(t, weights)
	assert.Equal(t, "0", r["Data"].(map[string]any)["PercentOnVersion"])
	ok(step("3", AliasFull)) // reupgrade
	main, _ = w.alias()
	assert.Equal(t, "3", main)
}
