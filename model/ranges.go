package model

import (
	"fmt"
	"strconv"
	"strings"
)

// The numbers a template gives are range-checked against the limits the
// services document before any reader uses them: a hostile or mistaken
// template must not make a reader allocate, loop or overflow (an
// EvaluationPeriods of 2^31, a WaitTime past time.Duration's range, a
// RunOrder of MaxInt). Each check names the field, the value and the
// documented range.

// Integer reads a whole number from a template value that evaluated to s,
// within [lo, hi], naming what in the error.
func Integer(what, s string, lo, hi int) (int, error) {
	if len(s) > 12 {
		return 0, fmt.Errorf("%s %q is not a whole number from %d to %d", what, s[:12]+"…", lo, hi)
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s %q is not a whole number from %d to %d", what, s, lo, hi)
	}
	return n, nil
}

// RunOrder range: "Valid Range: Minimum value of 1. Maximum value of 999."
// (https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ActionDeclaration.html,
// runOrder).
const MinRunOrder, MaxRunOrder = 1, 999

// MaxWaitTime bounds a CloudWatchAlarm rule's WaitTime, in minutes: the
// rule reference gives no maximum, so the longest a CodePipeline rule may
// run (86,400 minutes, RuleDeclaration.timeoutInMinutes: "Valid Range:
// Minimum value of 5. Maximum value of 86400.") stands in.
const MaxWaitTime = 86400

// CodeBuild's TimeoutInMinutes: "The number of minutes ... from 5 to 2160
// (36 hours)" (AWS::CodeBuild::Project TimeoutInMinutes).
const MinBuildTimeout, MaxBuildTimeout = 5, 2160

// CheckAlarmPeriods checks a metric alarm's Period, EvaluationPeriods and
// DatapointsToAlarm: "Valid values are 10, 20, 30, and any multiple of 60"
// and "An alarm's total current evaluation period can be no longer than
// seven days, so Period multiplied by EvaluationPeriods can't be more than
// 604,800 seconds. For alarms with a period of less than one hour (3,600
// seconds), the total evaluation period can't be longer than one day
// (86,400 seconds)." (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html,
// Period); DatapointsToAlarm is at most EvaluationPeriods ("M out of N").
func CheckAlarmPeriods(period, evaluationPeriods, datapoints int) error {
	switch {
	case period != 10 && period != 20 && period != 30 && (period < 60 || period%60 != 0):
		return fmt.Errorf("Period %d is not 10, 20, 30 or a multiple of 60 seconds", period)
	case evaluationPeriods < 1:
		return fmt.Errorf("EvaluationPeriods %d is not at least 1", evaluationPeriods)
	case period < 3600 && evaluationPeriods > 86400/period:
		return fmt.Errorf("Period %d × EvaluationPeriods %d is more than a day (86,400 seconds), the longest evaluation of an alarm whose period is under an hour", period, evaluationPeriods)
	case evaluationPeriods > 604800/period:
		return fmt.Errorf("Period %d × EvaluationPeriods %d is more than seven days (604,800 seconds), the longest evaluation of an alarm", period, evaluationPeriods)
	case datapoints < 1 || datapoints > evaluationPeriods:
		return fmt.Errorf("DatapointsToAlarm %d is not from 1 to EvaluationPeriods (%d)", datapoints, evaluationPeriods)
	}
	return nil
}
