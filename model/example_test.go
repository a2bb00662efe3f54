package model_test

import (
	"fmt"

	"github.com/safepipe/safepipe/model"
)

// Measure a DeploymentWindow cron: how long it is open, whether ever or
// always.
func ExampleParseWindow() {
	for _, cron := range []string{"* * 9-15 ? * MON-THU", "* 0-59 0-23 ? JAN-DEC SUN,MON,TUE,WED,THU,FRI,SAT", "* * 9-15 30 FEB ?"} {
		w, err := model.ParseWindow(cron)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%-50q %5.1f h/week always=%v never=%v\n", cron, w.WeeklyHours(), w.AlwaysOpen(), w.NeverOpen())
	}
	// Output:
	// "* * 9-15 ? * MON-THU"                              28.0 h/week always=false never=false
	// "* 0-59 0-23 ? JAN-DEC SUN,MON,TUE,WED,THU,FRI,SAT" 168.0 h/week always=true never=false
	// "* * 9-15 30 FEB ?"                                  0.0 h/week always=false never=true
}
