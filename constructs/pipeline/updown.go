package pipeline

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/safepipe/safepipe/waves"
)

// UpgradeDowngradeStep is what one stage of the upgrade-downgrade test does
// to the test region (Deployment.UpgradeDowngrade).
type UpgradeDowngradeStep string

// The steps of the upgrade-downgrade test, in pipeline order ("Ensuring
// rollback safety during deployments", seed 001): the new version next to
// the old, then alone; the old version back the same way; the new one
// again. Each step bakes, gated like every other gated stage, so that any
// alarm fails the pipeline before production.
const (
	// UpgradeHalf: the new version takes half of the traffic, the version
	// live before keeps the rest (both serve together).
	UpgradeHalf UpgradeDowngradeStep = "upgrade-half"
	// UpgradeFull: the new version takes all of it.
	UpgradeFull UpgradeDowngradeStep = "upgrade-full"
	// DowngradeHalf: the version live before the test takes half back.
	DowngradeHalf UpgradeDowngradeStep = "downgrade-half"
	// DowngradeFull: the version live before the test takes all of it.
	DowngradeFull UpgradeDowngradeStep = "downgrade-full"
	// Reupgrade: the new version takes all of it again.
	Reupgrade UpgradeDowngradeStep = "reupgrade"
)

// UpgradeDowngradeSteps are the steps in pipeline order.
var UpgradeDowngradeSteps = []UpgradeDowngradeStep{UpgradeHalf, UpgradeFull, DowngradeHalf, DowngradeFull, Reupgrade}

// UpDown is the environment of the upgrade-downgrade test stages.
const UpDown Environment = "updown"

// MinUpgradeDowngradeBake is the shortest bake of an upgrade-downgrade
// step: every API and every hourly batch job must run at least once with
// both versions, and once with each alone, for the test to mean anything.
const MinUpgradeDowngradeBake = time.Hour

// UpgradeDowngrade configures the upgrade-downgrade test: five gated
// pre-production stages, after gamma and before production, that take the
// test region through UpgradeDowngradeSteps with the production deploy
// configuration. The test region keeps the version of the last release
// between executions, so "the version live before" is what the previous
// execution shipped, read at deploy time, never a constant.
type UpgradeDowngrade struct {
	// Region is the test region: a pre-production region of the catalog
	// with at least two AZs (prod-like), deployed by no other stage
	// (alpha and beta's home region and the gamma regions are taken: their
	// stacks run the new version already). Required.
	Region string
	// Bake is each step's bake: long enough for every API and batch job to
	// run. At least MinUpgradeDowngradeBake. Default: MinUpgradeDowngradeBake.
	Bake time.Duration
}

// stageName is the pipeline stage of a step.
func (UpgradeDowngrade) stageName(s UpgradeDowngradeStep) string {
	names := map[UpgradeDowngradeStep]string{
		UpgradeHalf: "UpDown-UpgradeHalf", UpgradeFull: "UpDown-UpgradeFull",
		DowngradeHalf: "UpDown-DowngradeHalf", DowngradeFull: "UpDown-DowngradeFull", Reupgrade: "UpDown-Reupgrade",
	}
	return names[s]
}

// validate reports every problem at once.
func (u UpgradeDowngrade) validate(cat *waves.Catalog, home string, gamma []string) error {
	var errs []error
	switch reg, ok := cat.Region(u.Region); {
	case u.Region == "":
		errs = append(errs, errors.New("pipeline: UpgradeDowngrade.Region is empty; name a pre-production region with at least two AZs"))
	case !ok:
		errs = append(errs, fmt.Errorf("pipeline: UpgradeDowngrade.Region %q is not in the catalog", u.Region))
	case len(reg.AZs) < 2:
		errs = append(errs, fmt.Errorf("pipeline: UpgradeDowngrade.Region %q has %d AZ(s); the test needs a prod-like, multi-AZ region", u.Region, len(reg.AZs)))
	}
	if u.Region != "" && (u.Region == home || slices.Contains(gamma, u.Region)) {
		errs = append(errs, fmt.Errorf("pipeline: UpgradeDowngrade.Region %q is deployed by alpha, beta or gamma, which run the new version before the test starts; choose a region of its own", u.Region))
	}
	if u.Bake != 0 && (u.Bake < MinUpgradeDowngradeBake || u.Bake > waves.MaxStageDuration) {
		errs = append(errs, fmt.Errorf("pipeline: UpgradeDowngrade.Bake is %s; each step bakes %s to %s", u.Bake, MinUpgradeDowngradeBake, waves.MaxStageDuration))
	}
	return errors.Join(errs...)
}
