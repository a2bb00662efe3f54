package alarms

import (
	"errors"
	"fmt"
	"regexp"

	"github.com/safepipe/safepipe/internal/names"
)

// Names is the naming contract of a team's alarms in one deployment: one
// value, made once by the pipeline for each deployment
// (pipeline.Deployment.Alarms) and handed to the service, which creates the
// alarms with NewRollbackAlarms; the pipeline's gates watch exactly the
// names this value gives, so the two cannot disagree.
//
// CloudWatch alarm names are unique per account and region (PutMetricAlarm,
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html,
// AlarmName: "The name for the alarm. This name must be unique within the
// Region."; PutCompositeAlarm says the same of composite alarms). Deployments that can share an account and region — alpha and
// beta in the pre-production account, the per-AZ stacks of a zonal
// service — must therefore differ in their names: every name carries the
// team, the environment and, for a per-AZ or per-cell stack, the cell.
//
//	<prefix>-aggregate-rollback         the aggregate rollback alarm (composite)
//	<prefix>-aggregate-rollback-part-N  nested parts when the aggregate is split
//	<prefix>-onebox-rollback            the one-box alarm (composite)
//	<prefix>-bake                       aggregate OR too little traffic (composite)
//	<prefix>-onebox-bake                one-box alarm OR too little one-box traffic
//	<prefix>-low-traffic                too little traffic for promotion
//	<prefix>-onebox-low-traffic         too little one-box traffic
//	<prefix>-<service>-<signal>         one high-severity alarm of a microservice
//	<prefix>-<service>-onebox-<signal>  the same, on one-box-scoped metrics
//
// where <prefix> is "<team>-<environment>" or "<team>-<environment>-<cell>".
type Names struct {
	// Team is the team that owns the alarms. Required: lower case letters,
	// digits and dashes, starting with a letter, at most 40 characters.
	Team string
	// Environment is the deployment's environment: alpha, beta, gamma, zeta
	// or prod (any name of the same form as Team). Required.
	Environment string
	// Cell is the AZ ID ("use1-az1") or cell of a stack deployed per AZ or
	// cell, so that the stacks of one region do not collide. Default: ""
	// (one stack per region).
	Cell string
}

// namePartRE is what a team, environment or microservice name may contain:
// it becomes part of alarm names, metric names and rule names.
var namePartRE = names.PartRE

// cellRE is what a cell may contain: an AZ ID such as "use1-az1" or a cell
// name.
var cellRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)

// ValidName reports whether s can be a team, environment or microservice
// name: lower case letters, digits and dashes, starting with a letter, at
// most 40 characters.
func ValidName(s string) bool { return namePartRE.MatchString(s) }

func checkName(field, s string) error {
	if !ValidName(s) {
		return fmt.Errorf("%s %q must match %s", field, s, namePartRE)
	}
	return nil
}

// Validate reports every problem of the names at once.
func (n Names) Validate() error {
	var errs []error
	errs = append(errs, checkName("alarms: Names.Team", n.Team), checkName("alarms: Names.Environment", n.Environment))
	if n.Cell != "" && !cellRE.MatchString(n.Cell) {
		errs = append(errs, fmt.Errorf("alarms: Names.Cell %q must match %s", n.Cell, cellRE))
	}
	return errors.Join(errs...)
}

// Prefix starts every alarm name of the deployment: "<team>-<environment>"
// or "<team>-<environment>-<cell>".
func (n Names) Prefix() string {
	if n.Cell != "" {
		return n.Team + "-" + n.Environment + "-" + n.Cell
	}
	return n.Team + "-" + n.Environment
}

// Aggregate is the aggregate rollback alarm.
func (n Names) Aggregate() string { return n.Prefix() + "-aggregate-rollback" }

// OneBox is the one-box alarm.
func (n Names) OneBox() string { return n.Prefix() + "-onebox-rollback" }

// Bake is the alarm a pipeline bake watches: the aggregate (or, for a
// one-box step, the one-box) alarm OR too little traffic.
func (n Names) Bake(oneBox bool) string {
	if oneBox {
		return n.Prefix() + "-onebox-bake"
	}
	return n.Prefix() + "-bake"
}

// LowTraffic is the alarm on too little traffic for promotion.
func (n Names) LowTraffic(oneBox bool) string {
	if oneBox {
		return n.Prefix() + "-onebox-low-traffic"
	}
	return n.Prefix() + "-low-traffic"
}

// HighSeverity is one high-severity alarm of a microservice.
func (n Names) HighSeverity(service string, oneBox bool, signal string) string {
	if oneBox {
		return fmt.Sprintf("%s-%s-onebox-%s", n.Prefix(), service, signal)
	}
	return fmt.Sprintf("%s-%s-%s", n.Prefix(), service, signal)
}

// MetricNamespace is the namespace of the metrics the alarms publish
// themselves (log-error counts): "safepipe/<team>". Metric names in it
// carry the rest of the prefix, so environments sharing an account and
// region publish different metrics.
func (n Names) MetricNamespace() string { return "safepipe/" + n.Team }

// metricName is a metric of the deployment in MetricNamespace.
func (n Names) metricName(base string) string {
	return n.Prefix()[len(n.Team)+1:] + "-" + base
}
