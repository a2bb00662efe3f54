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
	step, ok := w.udStep, w.ok
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

// TestUpgradeDowngradeRollsBack: a stage rollback of a downgrade step
// redeploys the template that stage had in the execution it rolls back
// to — the version live before the test, in the step's mode — and the
// controller serves that version alone instead of refusing (which failed
// the stack update and left the test region half downgraded). A downgrade
// to any other version is still refused.
func TestUpgradeDowngradeRollsBack(t *testing.T) {
	w := newControllerWorld(t)
	step, ok := w.udStep, w.ok
	for _, rollback := range []AliasMode{AliasDowngradeHalf, AliasDowngrade} {
		t.Run(string(rollback), func(t *testing.T) {
			ok(w.release("2", "full")) // the last release left version 2 live
			ok(step("3", AliasUpgradeHalf))
			ok(step("3", AliasFull))
			ok(step("3", AliasDowngradeHalf))
			if rollback == AliasDowngrade {
				ok(step("3", AliasDowngrade))
			}
			// The step's stage fails its bake; CodePipeline redeploys the
			// template of the earlier execution, this mode: version 2's
			// code, which CloudFormation publishes again as version 4.
			r := step("4", rollback)
			ok(r)
			main, weights := w.alias()
			assert.Equal(t, "4", main, "the code live before the test serves")
			assert.Empty(t, weights, "alone")
			assert.Equal(t, "100", r["Data"].(map[string]any)["PercentOnVersion"])
			assert.Equal(t, "4", w.ledger()["main"])

			r = step("1", AliasDowngrade)
			require.Equal(t, "FAILED", r["Status"], "version 1 is neither the test's nor the code live before it")
			assert.Contains(t, r["Reason"], "no upgrade-half of version 1 is recorded")
		})
	}
}

// putLedger writes the alias's ledger as another writer (a stack deleted
// and recreated, say) left it.
func (w *controllerWorld) putLedger(l map[string]any) {
	w.t.Helper()
	b, err := json.Marshal(l)
	require.NoError(w.t, err)
	out, err := exec.Command("python3", "-c", fmt.Sprintf(`import boto3
boto3.client("ssm").put_parameter(Name=%q, Value=%q, Type="String", Overwrite=True)`, twophase.LedgerPrefix+"orders-service", string(b))).CombinedOutput()
	require.NoError(w.t, err, "%s", out)
}

// TestLedgerKnowsItsFunction: the ledger names the function and the code it
// describes. One that outlived its function (the stack was deleted and
// recreated, or the version is other code now) proves nothing prepared,
// while a change it shows active still binds — the data its writers wrote
// can outlive the function — and the refusal says how to clear it. Where
// the alias does not exist yet nothing serves, so a first deployment may
// activate a change.
func TestLedgerKnowsItsFunction(t *testing.T) {
	w := newControllerWorld(t)
	x := twophase.Change{Name: "order-record-v2", Phase: twophase.ChangePrepare}
	xOn := twophase.Change{Name: "order-record-v2", Phase: twophase.ChangeActivate}
	y := twophase.Change{Name: "invoice-v3", Phase: twophase.ChangeActivate}
	ok := func(r map[string]any) {
		t.Helper()
		require.Equal(t, "SUCCESS", r["Status"], "%v", r["Reason"])
	}
	refused := func(r map[string]any, why string) {
		t.Helper()
		require.Equal(t, "FAILED", r["Status"])
		assert.Contains(t, r["Reason"], why)
	}

	// A first deployment: no alias, no reader here.
	ok(w.release("3", "full", xOn))
	l := w.ledger()
	fn, _ := l["function"].(string)
	assert.Regexp(t, `^arn:aws:lambda:[a-z0-9-]+:123456789012:function:orders$`, fn)
	assert.NotEmpty(t, l["code"], "the CodeSha256 of version 3")
	assert.Equal(t, "3", l["main"])

	for name, other := range map[string]map[string]any{
		"another function": {"function": fn + "-old", "code": l["code"], "main": "3"},
		"other code":       {"function": l["function"], "code": "c3RhbGU=", "main": "3"},
		"a lost version":   {"function": l["function"], "code": l["code"], "main": "9"},
	} {
		t.Run(name, func(t *testing.T) {
			other["changes"] = map[string]any{
				"order-record-v2": map[string]any{"full": "prepare", "canary": "none"},
				"invoice-v3":      map[string]any{"full": "activate", "canary": "none"},
			}
			w.putLedger(other)
			refused(w.release("2", "canary", xOn, y), "its prepare does not serve all of this alias's traffic")
			refused(w.release("2", "full", x), "is stale")
			ok(w.release("2", "full", x, y))
			l := w.ledger()
			assert.Equal(t, "2", l["main"])
			assert.Equal(t, fn, l["function"])
			assert.Equal(t, map[string]any{
				"order-record-v2": map[string]any{"full": "prepare", "canary": "none", "version": "2"},
				"invoice-v3":      map[string]any{"full": "activate", "canary": "none", "version": "2"},
			}, l["changes"], "the active change carried over; the prepare is the new one's")
		})
	}
}

// TestCloudFormationRollback: when a stack update fails after the alias
// moved (a later resource of the same update failed), CloudFormation's
// rollback sends the controller an Update whose ResourceProperties are the
// template's earlier ones; a stage rollback redeploys the earlier
// template and sends the same request. Either way the alias and the
// ledger go back to the earlier version, and a version that activated a
// change rolls back to its prepare, which reads what the writers wrote.
func TestCloudFormationRollback(t *testing.T) {
	w := newControllerWorld(t)
	prepare := twophase.Change{Name: "order-record-v2", Phase: twophase.ChangePrepare}
	activate := twophase.Change{Name: "order-record-v2", Phase: twophase.ChangeActivate}
	ok := func(r map[string]any) {
		t.Helper()
		require.Equal(t, "SUCCESS", r["Status"], "%v", r["Reason"])
	}
	ok(w.release("2", "full", prepare))
	ok(w.release("3", "full", activate))
	// The update rolls back: the earlier properties.
	ok(w.release("2", "full", prepare))
	main, weights := w.alias()
	assert.Equal(t, "2", main)
	assert.Empty(t, weights)
	l := w.ledger()
	assert.Equal(t, "2", l["main"])
	assert.Equal(t, "prepare", l["changes"].(map[string]any)["order-record-v2"].(map[string]any)["full"])
}

// TestUpgradeDowngradeOneReleaseAtATime: a downgrade step of one release
// that finds another release's upgrade-half recorded is refused, even when
// it ships the code that release found live (the gates keep a second
// release out of the test while one is in it: gates.Stage.Serial; this is
// the controller's own guard).
func TestUpgradeDowngradeOneReleaseAtATime(t *testing.T) {
	w := newControllerWorld(t)
	step, ok := w.udStep, w.ok
	ok(w.release("1", "full"))
	ok(step("2", AliasUpgradeHalf)) // release 2 enters the test
	ok(step("2", AliasFull))
	ok(step("3", AliasUpgradeHalf)) // release 3 overtakes it
	r := step("2", AliasDowngradeHalf)
	require.Equal(t, "FAILED", r["Status"], "release 2's downgrade finds release 3's test")
	assert.Contains(t, r["Reason"], "no upgrade-half of version 2 is recorded")
}

// TestLedgerOfAMovedAlias: a ramp or a person that moved the alias since
// the last deployment leaves a ledger that no longer says what serves: its
// prepares prove nothing.
func TestLedgerOfAMovedAlias(t *testing.T) {
	w := newControllerWorld(t)
	prepare := twophase.Change{Name: "order-record-v2", Phase: twophase.ChangePrepare}
	activate := twophase.Change{Name: "order-record-v2", Phase: twophase.ChangeActivate}
	require.Equal(t, "SUCCESS", w.release("2", "full", prepare)["Status"])
	// Version 3 reads only the old form; a ramp takes it to 100%.
	out, err := exec.Command("python3", "-c", `import boto3
boto3.client("lambda").update_alias(FunctionName="orders", Name="live", FunctionVersion="3", RoutingConfig={"AdditionalVersionWeights": {}})`).CombinedOutput()
	require.NoError(t, err, "%s", out)
	r := w.release("1", "canary", activate)
	require.Equal(t, "FAILED", r["Status"], "the ledger's prepare is version 2's, which no longer serves")
	assert.Contains(t, r["Reason"], "its prepare does not serve all of this alias's traffic")
}

// udStep deploys version in an upgrade-downgrade mode, with the ledger.
func (w *controllerWorld) udStep(version string, mode AliasMode) map[string]any {
	w.t.Helper()
	return w.requestWith("Update", map[string]any{"FunctionName": "orders", "AliasName": "live", "Version": version,
		"Mode": string(mode), "Percent": "50", "Ledger": twophase.LedgerPrefix + "orders-service", "Changes": "{}"})
}

// ok requires a controller response to be SUCCESS.
func (w *controllerWorld) ok(r map[string]any) {
	w.t.Helper()
	require.Equal(w.t, "SUCCESS", r["Status"], "%v", r["Reason"])
}
