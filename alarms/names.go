package alarms

import (
	"fmt"
	"regexp"
)

// Alarm names are a contract: the pipeline's bake and blocker rules, the
// CodeDeploy deployment groups and the verify rules find the alarms by name
// in each region, so the names are the same in every region and never
// depend on construct paths.
//
//	<team>-aggregate-rollback         the aggregate rollback alarm (composite)
//	<team>-aggregate-rollback-part-N  nested parts when the aggregate is split
//	<team>-onebox-rollback            the one-box alarm (composite)
//	<team>-bake                       aggregate OR too little traffic (composite)
//	<team>-onebox-bake                one-box alarm OR too little one-box traffic
//	<team>-<service>-<signal>         one high-severity alarm of a microservice
//	<team>-<service>-onebox-<signal>  the same, on one-box-scoped metrics

// namePartRE is what a team or microservice name may contain: it becomes
// part of alarm names, metric names and rule names.
var namePartRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

// ValidName reports whether s can be a team or microservice name: lower
// case letters, digits and dashes, starting with a letter, at most 40
// characters.
func ValidName(s string) bool { return namePartRE.MatchString(s) }

func checkName(field, s string) error {
	if !ValidName(s) {
		return fmt.Errorf("%s %q must match %s", field, s, namePartRE)
	}
	return nil
}

// AggregateName is the name of a team's aggregate rollback alarm in every
// region.
func AggregateName(team string) string { return team + "-aggregate-rollback" }

// OneBoxName is the name of a team's one-box alarm in every region.
func OneBoxName(team string) string { return team + "-onebox-rollback" }

// BakeName is the alarm a pipeline bake watches in a region: the aggregate
// (or, for a one-box step, the one-box) alarm OR too little traffic.
func BakeName(team string, oneBox bool) string {
	if oneBox {
		return team + "-onebox-bake"
	}
	return team + "-bake"
}

// HighSeverityName is the name of one high-severity alarm.
func HighSeverityName(team, service string, oneBox bool, signal string) string {
	if oneBox {
		return fmt.Sprintf("%s-%s-onebox-%s", team, service, signal)
	}
	return fmt.Sprintf("%s-%s-%s", team, service, signal)
}
